"""The Dask pool of a parallel-run step: mini-batches go to the cluster's worker processes.

Used when the step itself runs on the dask executor. Each Dask worker process scores in a
worker process of its own per step (one init() there, ``remote.py``); results are committed
to the shared artifact store where they are scored. One mini-batch per Dask worker is in
flight at a time. That worker process enforces ``run_invocation_timeout`` (it is killed and
replaced) and reports one that dies, so the mini-batch counts a failed attempt either way;
a Dask task with no result a few seconds past the timeout (a Dask worker lost) is given up
here and counts one too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from ..errors import ParallelRunError
from ..execution.executors.dask_fanout import Fanout
from .remote import process_remote, remote_shared
from .worker import Outcome, Setup, Task

TICK = 0.5
SLACK = 5.0  # seconds of transfer and scheduling allowed beyond run_invocation_timeout


class DaskPool:
    """``submit(task)`` and ``outcomes()`` like the local pool, on the current Dask cluster.

    Args:
        setup: what every worker session starts with.
        size: at most this many mini-batches in flight (None: one per worker of the cluster).
        timeout: seconds one attempt may take.
        where: how messages name the step.
    """

    def __init__(self, setup: Setup, size: int | None, timeout: float, where: str):
        self.fanout = Fanout(process_remote, remote_shared(setup, timeout, where))
        self.limit, self.timeout, self.where = size, timeout, where
        self.size = 1
        self.label = setup.entry.label
        self.pending: deque[Task] = deque()

    def __enter__(self) -> DaskPool:
        self.fanout.__enter__()
        self.size = self.fanout.workers  # one mini-batch per worker process at a time
        if self.limit is not None:  # max_concurrency
            self.size = max(1, min(self.size, self.limit))
        return self

    def __exit__(self, *exc: Any) -> None:
        self.fanout.__exit__(*exc)

    def submit(self, task: Task, first: bool = False) -> None:
        """Queue an attempt (``first``: ahead of the others)."""
        if first:
            self.pending.appendleft(task)
        else:
            self.pending.append(task)

    def outcomes(self) -> Iterator[Outcome | None]:
        """Each attempt's outcome as it finishes; None now and then (progress)."""
        self._fill()
        while self.fanout.futures or self.pending:
            for done in self.fanout.completed(TICK):
                if done is None:
                    yield from self._expire()
                    yield None
                else:
                    yield self._outcome(*done)
                self._fill()
                if not self.fanout.futures and not self.pending:
                    break

    def _fill(self) -> None:
        while self.pending and len(self.fanout.futures) < self.size:
            self.fanout.submit(self.pending.popleft())

    def _outcome(self, task: Task, result: Any, error: BaseException | None) -> Outcome:
        if error is not None:
            return Outcome(
                task.batch,
                task.attempt,
                "failed",
                task.key,
                error=f"WorkerDied: the Dask task scoring this mini-batch failed "
                f"({type(error).__name__}: {error}); a worker may have died",
            )
        if result.status == "init_failed":
            if not result.traceback:  # the worker process died in the import or init()
                raise ParallelRunError(f"{result.error} (on a Dask worker)")
            raise ParallelRunError(
                f"{self.where}: init() of the entry {self.label} raised {result.error} on a "
                f"Dask worker; the step stopped (fix init(), then run again). The entry's "
                f"traceback:\n{result.traceback}"
            )
        return result

    def _expire(self) -> Iterator[Outcome]:
        for task, age in self.fanout.running():
            if age > self.timeout + SLACK:
                self.fanout.abandon(task)
                yield Outcome(
                    task.batch,
                    task.attempt,
                    "failed",
                    task.key,
                    error=f"TimeoutError: no result within run_invocation_timeout="
                    f"{self.timeout:g}s (+{SLACK:g}s transfer) on the Dask cluster; the mini-batch "
                    "was given up (its Dask worker may be lost)",
                )
