"""Worker processes that end with the process that started them, however it ends.

A pool's workers wait on a pipe from their parent; when the parent is SIGKILLed nothing
tells them, and they linger. Linux can deliver a signal to a child when its parent dies
(``PR_SET_PDEATHSIG``); elsewhere, and as a second line, a daemon thread in the worker
watches for its parent's pid to change and exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when process ``parent`` goes away."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the prctl call took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="headrace-orphan", daemon=True).start()


def _watch(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)
