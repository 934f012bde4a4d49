"""Fanning work out from a step running on a Dask worker to the whole cluster (``worker_client``).

A step that runs on the dask executor may split its own work (a parallel-run step's
mini-batches) over the cluster's workers. This is the only seam it needs, kept here because
only ``execution/executors`` imports ``distributed``: callers pass picklable functions and
get results back as they complete, never Dask objects.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

MAX_RESCATTERS = 5  # times a lost ``shared`` is sent again before calls fail for it


def on_dask_worker() -> bool:
    """Whether this code runs inside a task on a Dask worker."""
    try:
        from distributed import get_worker
    except ImportError:
        return False
    try:
        get_worker()
    except ValueError:
        return False
    return True


class Fanout:
    """Runs ``fn(shared, arg)`` on the cluster's workers; ``completed()`` yields as they finish.

    ``shared`` (bytes) is sent to every worker once. The calling task secedes from its
    worker's thread pool while it waits, so the cluster's threads all do the work.

    Args:
        fn: a picklable function of (shared bytes, argument).
        shared: what every call receives.
    """

    def __init__(self, fn: Callable[[bytes, Any], Any], shared: bytes):
        self.fn = fn
        self.shared_bytes = shared
        self.futures: dict[Any, tuple[Any, float]] = {}  # future → (argument, submitted at)
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Fanout:
        from distributed import worker_client

        self.client = self._stack.enter_context(worker_client())
        self.shared = self.client.scatter(self.shared_bytes, broadcast=True, hash=False)
        self.rescattered = 0
        self.used: dict[Any, Any] = {}  # future → the shared future it was given
        self.ac: Any = None
        return self

    def __exit__(self, *exc: Any) -> None:
        with contextlib.suppress(Exception):
            self.client.cancel(list(self.futures))
        self._stack.close()

    @property
    def workers(self) -> int:
        """How many worker processes the cluster has."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def submit(self, arg: Any) -> None:
        """Run ``fn(shared, arg)`` somewhere on the cluster."""
        from distributed import as_completed

        future = self.client.submit(self.fn, self.shared, arg, pure=False)
        self.futures[future] = (arg, time.monotonic())
        self.used[future] = self.shared
        if self.ac is None:
            self.ac = as_completed([future])
        else:
            self.ac.add(future)

    def completed(self, tick: float) -> Iterator[tuple[Any, Any, BaseException | None] | None]:
        """(argument, result, error) per finished call; None every ``tick`` seconds (so the
        caller can give up on calls that run too long with :meth:`abandon`)."""
        while self.futures:
            batch = self.ac.next_batch(block=False) if self.ac is not None else []
            if not batch:
                time.sleep(min(tick, 0.02))
                yield None
                continue
            for future in batch:
                entry = self.futures.pop(future, None)
                if entry is None:
                    continue  # abandoned
                used = self.used.pop(future, None)
                try:
                    done: tuple[Any, Any, BaseException | None] = entry[0], future.result(), None
                except BaseException as exc:  # the worker died (KilledWorker), fn raised, canceled
                    if self._shared_lost(used):  # not the call's fault: it never ran
                        self.submit(entry[0])
                        continue
                    done = entry[0], None, exc
                yield done  # outside the try: closing this generator is not an error of fn

    def _shared_lost(self, used: Any) -> bool:
        """Whether the ``shared`` a failed call was given (``used``) was lost: its only copy
        was on a worker that died (Dask's memory manager drops the copies ``broadcast``
        made). A lost one is scattered again, a few times at most.

        The calls that depended on it were canceled before they ran; they are sent again
        with the new one, without counting as attempts.
        """
        if used is None or used.status == "finished":
            return False
        if used is self.shared:
            if self.rescattered >= MAX_RESCATTERS:
                return False
            self.rescattered += 1
            self.shared = self.client.scatter(self.shared_bytes, broadcast=True, hash=False)
        return True

    def running(self) -> list[tuple[Any, float]]:
        """(argument, seconds since submitted) of every call still waited for."""
        now = time.monotonic()
        return [(arg, now - since) for arg, since in self.futures.values()]

    def abandon(self, arg: Any) -> None:
        """Stop waiting for the call made with ``arg`` (a running Python call cannot be
        interrupted; its worker thread stays busy until it returns)."""
        for future, (a, _) in list(self.futures.items()):
            if a is arg:
                del self.futures[future]
                self.used.pop(future, None)
                with contextlib.suppress(Exception):
                    future.cancel()
