"""The local executor: a thread pool (default) or a process pool on this machine."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from ..task import StepResult, StepTask
from ..worker import execute
from .base import RunInfo
from .orphans import die_with_parent, owner
from .shipping import dumps, run_pickled
from .threads import DaemonThreadPool

T = TypeVar("T")


class LocalExecutor:
    """Runs steps on this machine.

    Args:
        max_workers: concurrent steps (default: the number of CPUs, at least 4 threads).
        processes: use a process pool (steps that hold the GIL run truly in parallel; their
            components are shipped by value, so functions from files loaded by path work too).
    """

    name = "local"
    reports_start = True  # futures carry headrace_started_at (thread pool) or turn running()

    def __init__(self, max_workers: int | None = None, processes: bool = False):
        cpus = os.cpu_count() or 1
        self.max_workers = max_workers or (cpus if processes else max(4, cpus))
        self.processes = processes
        self._pool: Any = None

    def session(self, run: RunInfo, body: Callable[[], T]) -> T:
        """Run the runner loop with a fresh pool."""
        if self.processes:
            self._pool = self._process_pool()
        else:
            self._pool = DaemonThreadPool(self.max_workers)
        return body()

    def submit(self, task: StepTask, upstream: Sequence[str]) -> Future[StepResult]:
        """Start a step attempt in the pool."""
        assert self._pool is not None, "submit() outside session()"
        if self.processes:
            if getattr(self._pool, "_broken", False):  # a worker died: start a fresh pool
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._process_pool()
            return self._pool.submit(run_pickled, dumps(task))
        return self._pool.submit(execute, task)

    def _process_pool(self) -> ProcessPoolExecutor:
        """Workers that end when this process ends, even by SIGKILL.

        They come from a fork server, never from a fork of this process: a fork copies the
        locks other threads hold at that instant (SQLite's, a stream's, the stat cache's),
        and a worker that needs one waits forever.
        """
        return ProcessPoolExecutor(
            max_workers=self.max_workers,
            mp_context=_fork_server(),
            initializer=die_with_parent,
            initargs=owner(),
        )

    def note_reused(self, step: str, reused_from: str, upstream: Sequence[str]) -> None:
        """Nothing to show locally."""

    def shutdown(self, cancel: bool) -> None:
        """Stop the pool; running threads cannot be interrupted and finish in the background."""
        if self._pool is None:
            return
        if self.processes and cancel:  # a canceled or timed-out step: stop its process
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.terminate()
        # Threads are daemons: an abandoned (timed-out) step never blocks the run's end.
        self._pool.shutdown(wait=self.processes and not cancel, cancel_futures=cancel)
        self._pool = None


def _fork_server() -> multiprocessing.context.BaseContext:
    """The fork-server context, its server preloaded with the worker's imports."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # not on Windows
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__.rsplit(".", 1)[0] + ".shipping"])
    return ctx
