"""A thread pool of daemon threads, so a canceled or timed-out step cannot block interpreter exit.

``concurrent.futures.ThreadPoolExecutor`` joins its workers at exit, which makes Ctrl-C wait
for a sleeping step; Python threads cannot be killed, so headrace abandons them instead.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class DaemonThreadPool:
    """A minimal fixed-size pool whose workers are daemon threads.

    Args:
        max_workers: the number of threads (started lazily, as work arrives).
        name: thread name prefix.
    """

    def __init__(self, max_workers: int, name: str = "headrace-step"):
        self.max_workers = max_workers
        self.name = name
        self._queue: queue.SimpleQueue[
            tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None
        ] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue ``fn(*args)``; returns its future."""
        if self._shutdown:
            raise RuntimeError("cannot submit after shutdown")
        future: Future[Any] = Future()
        self._queue.put((future, fn, args))
        with self._lock:
            if self._idle == 0 and len(self._threads) < self.max_workers:
                t = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(t)
                t.start()
            else:
                self._idle -= 1 if self._idle else 0
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args = item
            future.headrace_started_at = time.time()  # type: ignore[attr-defined]  # timeouts count from here
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop the workers; with ``cancel_futures``, queued work is canceled."""
        self._shutdown = True
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                t.join()
