"""Module-style entry whose shutdown() (and an atexit handler) leave markers, a little late."""

import atexit
import os
import time
from pathlib import Path

_counter = None


def init(counter):
    global _counter
    _counter = Path(counter)
    _counter.mkdir(parents=True, exist_ok=True)
    (_counter / f"init-{os.getpid()}").touch()
    atexit.register(lambda: (_counter / f"atexit-{os.getpid()}").touch())


def run(mini_batch):
    return [p.name for p in mini_batch]


def shutdown():
    time.sleep(0.5)  # the step waits for it
    (_counter / f"shutdown-{os.getpid()}").touch()
