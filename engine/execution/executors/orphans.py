"""Worker processes that end with the process that started them, however it ends.

A pool's workers wait on a pipe from their parent; when the run's process is SIGKILLed
nothing tells them, and they linger. Workers are forked by multiprocessing's fork server,
which exits when the run's process goes away; Linux then delivers a signal to each worker
(``PR_SET_PDEATHSIG``). Elsewhere, and as a second line, a daemon thread in the worker
watches the run's process itself (its pid and start time, so a reused pid does not count).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time

import psutil

_PR_SET_PDEATHSIG = 1


def owner() -> tuple[int, float]:
    """This process's pid and start time: what :func:`die_with_parent` watches."""
    return os.getpid(), psutil.Process().create_time()


def die_with_parent(pid: int, started: float) -> None:
    """Pool initializer: end this worker when process ``pid`` (started at ``started``) goes away."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if not _alive(pid, started):  # it died before the prctl call took effect
        os._exit(1)
    threading.Thread(
        target=_watch, args=(pid, started), name="headrace-orphan", daemon=True
    ).start()


def _alive(pid: int, started: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _watch(pid: int, started: float) -> None:
    while True:
        time.sleep(1.0)
        if not _alive(pid, started):
            os._exit(1)
