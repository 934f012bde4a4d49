"""The local pool of a parallel-run step: ``max_concurrency`` worker processes, each init() once.

Each worker is a fresh interpreter (``python -m headrace.engine.parallel.worker``) talking
over its own socket pair, so a worker that is killed (a timeout, ``os._exit``, a crash in C
code, the OOM killer) breaks only its own connection: its mini-batch counts an attempt and a
new worker takes its place. Workers end with the step's process however it ends.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from ..errors import ParallelRunError
from ..execution.executors.orphans import owner
from .worker import Outcome, Setup, Task

TICK = 0.5  # seconds between heartbeats to the step (progress, thresholds)
STOP_GRACE = 10.0  # seconds workers get for shutdown() before they are killed
SHORT = 0.2  # seconds: mini-batches this quick get a second one queued on their worker
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    primed: bool = False
    name: str = ""
    tasks: deque[Task] = field(default_factory=deque)  # in flight: the first one is running
    since: float = 0.0  # when the running one started (about)

    @property
    def task(self) -> Task | None:
        """The attempt it is running."""
        return self.tasks[0] if self.tasks else None


class Spares:
    """Worker processes started early (interpreter up, headrace imported) that wait for their
    setup: a step starts them first, then plans its mini-batches while they start.

    With several workers, each native thread pool (OpenMP, OpenBLAS, MKL) gets one thread
    unless the environment says otherwise, as Ray does: N workers on N cores, not N x N threads.

    Args:
        size: how many to start.
        env: the step's environment variables (set before the interpreter starts, so they
            reach native libraries too).
    """

    def __init__(self, size: int, env: dict[str, str] | None = None):
        self.owner = pickle.dumps(owner())
        self.env = dict(os.environ)
        if size > 1:
            for name in THREAD_VARS:
                self.env.setdefault(name, "1")
        self.env.update(env or {})
        self.workers = [self.spawn() for _ in range(size)]

    def spawn(self) -> _Worker:
        """Start one worker process (it waits for its setup)."""
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        proc = subprocess.Popen(
            [sys.executable, "-m", "headrace.engine.parallel.worker", str(fd)],
            pass_fds=[fd],
            cwd=os.getcwd(),
            env=self.env,
        )
        theirs.close()
        conn = Connection(ours.detach())
        conn.send_bytes(self.owner)
        return _Worker(proc, conn)

    def prime(self, setup: Setup) -> None:
        """Send every waiting worker the step's setup before planning is done (``context``
        may be empty), so each imports the entry and runs init() while the step plans."""
        data = pickle.dumps(setup)
        for w in self.workers:
            with contextlib.suppress(OSError):  # it died: its connection reports that
                w.conn.send_bytes(data)
            w.primed = True

    def take(self) -> _Worker:
        """A started worker (a new one when none is left); primed ones first."""
        return self.workers.pop(0) if self.workers else self.spawn()

    def close(self) -> None:
        """End the workers nobody took."""
        _kill_all(self.workers)
        self.workers = []


class LocalPool:
    """Runs tasks on worker processes; ``outcomes()`` yields each attempt's outcome.

    Args:
        setup: what every worker starts with.
        size: how many workers.
        timeout: seconds one attempt may take before its worker is killed.
        where: how messages name the step.
        spares: workers started already (taken first).
    """

    def __init__(
        self, setup: Setup, size: int, timeout: float, where: str, spares: Spares | None = None
    ):
        self.setup = setup
        self.setup_bytes = pickle.dumps(setup)
        self.spares = spares if spares is not None else Spares(0)
        self.size, self.timeout, self.where = size, timeout, where
        self.label = setup.entry.label
        self.pending: deque[Task] = deque()
        self.workers: list[_Worker] = []
        self.recent = 0.0  # how long attempts take, smoothed (0: none seen yet)
        self.init_error: tuple[str, str] | None = None  # what init() raised, its traceback

    def __enter__(self) -> LocalPool:
        self.workers = [self._spawn() for _ in range(self.size)]
        self.spares.close()  # fewer mini-batches than workers: the others stop their init()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(graceful=exc[0] is None)

    def _spawn(self) -> _Worker:
        w = self.spares.take()
        with contextlib.suppress(OSError):  # it died: its connection reports that
            if w.primed:  # it has the entry; now it gets the context and the sources
                w.conn.send(self.setup)
            else:
                w.conn.send_bytes(self.setup_bytes)
        return w

    def submit(self, task: Task, first: bool = False) -> None:
        """Queue an attempt (``first``: ahead of the others, e.g. a retry)."""
        if first:
            self.pending.appendleft(task)
        else:
            self.pending.append(task)

    def outcomes(self) -> Iterator[Outcome | None]:
        """Each attempt's outcome as it finishes (None every TICK seconds), until none is left.

        Raises:
            ParallelRunError: a worker's init() raised, or a worker died before it was ready.
        """
        while self.pending or any(w.tasks for w in self.workers):
            self._dispatch()
            busy = [w for w in self.workers if w.task is not None or not w.ready]
            ready = wait([w.conn for w in busy], timeout=self._wait_time())
            for w in [w for w in busy if w.conn in ready]:
                yield from self._receive(w)
            yield from self._expire()
            yield None

    def _dispatch(self) -> None:
        """Give each ready worker an attempt; short ones get a second queued behind it, so a
        worker never waits for the step between two (long ones do not: the last mini-batches
        would wait behind each other while another worker is free)."""
        depth = 2 if 0 < self.recent < SHORT else 1
        for w in self.workers:
            while w.ready and len(w.tasks) < depth and self.pending:
                task = self.pending.popleft()
                if not w.tasks:
                    w.since = time.monotonic()
                w.tasks.append(task)
                with contextlib.suppress(OSError):  # it died: its connection reports that
                    w.conn.send(task)

    def _requeue(self, w: _Worker) -> Task:
        """The attempt ``w`` was running; the ones queued behind it go back to the front of
        the queue (they never started, so they count no attempt)."""
        running = w.tasks.popleft()
        self.pending.extendleft(reversed(w.tasks))
        w.tasks.clear()
        return running

    def _wait_time(self) -> float:
        now, wait_for = time.monotonic(), TICK
        for w in self.workers:
            if w.task is not None:
                wait_for = min(wait_for, max(0.0, w.since + self.timeout - now))
        return wait_for

    def _receive(self, w: _Worker) -> Iterator[Outcome]:
        try:
            kind, payload, text = w.conn.recv()
        except (EOFError, OSError):
            yield from self._died(w)
            return
        if kind == "ready":
            w.ready, w.name = True, payload
        elif kind == "init_failed":
            self.init_error = (payload, text)
            raise ParallelRunError(
                f"{self.where}: init() of the entry {self.label} raised {payload}; the step "
                f"stopped (fix init(), then run again). The entry's traceback:\n{text}"
            )
        else:
            w.tasks.popleft()
            w.since = time.monotonic()  # the next queued one has started
            self.recent = (
                payload.duration if not self.recent else (self.recent + payload.duration) / 2
            )
            yield payload

    def _died(self, w: _Worker) -> Iterator[Outcome]:
        code = _exit_code(w.proc)
        if not w.ready:
            raise ParallelRunError(
                f"{self.where}: a worker process exited ({code}) while importing the entry "
                f"{self.label} or running its init(); the step stopped. Check what the entry "
                "does at import and in init() (os._exit, sys.exit, running out of memory)"
            )
        task = self._requeue(w) if w.tasks else None
        self._replace(w)
        if task is not None:
            yield Outcome(
                task.batch,
                task.attempt,
                "failed",
                task.key,
                error=f"WorkerDied: the worker process {w.name} exited ({code}) while running "
                "this mini-batch; it may have crashed in native code, called os._exit or run "
                "out of memory. A new worker took its place",
                duration=time.monotonic() - w.since,
                worker=w.name,
            )

    def _expire(self) -> Iterator[Outcome]:
        now = time.monotonic()
        for w in list(self.workers):
            if w.tasks and now - w.since > self.timeout:
                task, name = self._requeue(w), w.name
                self._replace(w)
                yield Outcome(
                    task.batch,
                    task.attempt,
                    "failed",
                    task.key,
                    error=f"TimeoutError: run() took longer than run_invocation_timeout="
                    f"{self.timeout:g}s; its worker was stopped and replaced",
                    duration=now - w.since,
                    worker=name,
                )

    def _replace(self, w: _Worker) -> None:
        _kill(w)
        self.workers[self.workers.index(w)] = self._spawn()

    def close(self, graceful: bool = True) -> None:
        """Stop every worker: shutdown() first when ``graceful``, else kill them now."""
        if graceful:
            for w in self.workers:
                with contextlib.suppress(OSError):
                    w.conn.send(None)
            _await_closed(self.workers, time.monotonic() + STOP_GRACE)
        _kill_all(self.workers)
        self.workers = []


def _await_closed(workers: list[_Worker], deadline: float) -> None:
    """Wait until every started worker's shutdown() returned (its "closed" message) or it
    exited; one still in init() is not waited for (it is killed)."""
    waiting = [w.conn for w in workers if w.ready and not w.conn.closed]
    while waiting and (left := deadline - time.monotonic()) > 0:
        for ready in wait(waiting, timeout=left):
            conn = waiting[waiting.index(ready)]  # type: ignore[arg-type]
            try:
                if conn.recv()[0] != "closed":
                    continue  # a late message (e.g. "ready") before the goodbye
            except (EOFError, OSError):
                pass
            waiting.remove(conn)


def _kill_all(workers: list[_Worker]) -> None:
    """Kill every worker still running, then reap them (one wait, not one per worker)."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.kill()
    for w in workers:
        _kill(w)


def _kill(w: _Worker) -> None:
    if w.proc.poll() is None:
        w.proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        w.proc.wait(5)
    w.conn.close()


def _exit_code(proc: subprocess.Popen[bytes]) -> str:
    try:
        code = proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
