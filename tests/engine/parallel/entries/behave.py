"""Module-style entry whose items say how to behave: by the first word of their file name.

ok_*: scored. fail_*: left out of the result (a failed item). raise_*: run() raises.
flaky_*: run() raises on the first attempt only. exit_*: the worker process exits.
sleep_*: run() sleeps past any timeout. gate_*: the first run() to take ``counter/gate``
waits until ``counter/release`` exists. Every run() call leaves a marker in ``counter``.
"""

import os
import time
import uuid
from pathlib import Path

import pandas as pd

_counter = None


def init(counter):
    global _counter
    _counter = Path(counter)
    _counter.mkdir(parents=True, exist_ok=True)


def run(mini_batch):
    names = [p.name for p in mini_batch]
    (_counter / f"{uuid.uuid4().hex}.call").write_text("\n".join(names))
    kinds = {n.split("_", 1)[0] for n in names}
    if "exit" in kinds:
        os._exit(7)
    if "sleep" in kinds:
        time.sleep(60)
    if "gate" in kinds:
        try:
            (_counter / "gate").rename(_counter / "gate.taken")
        except FileNotFoundError:
            pass  # taken by another caller (or none set): go on
        else:
            deadline = time.time() + 60
            while not (_counter / "release").exists() and time.time() < deadline:
                time.sleep(0.05)
    if "raise" in kinds:
        raise ValueError(f"cannot score {names[0]}")
    for p in mini_batch:
        if p.name.startswith("flaky_"):
            marker = _counter / f"{p.name}.seen"
            if not marker.exists():
                marker.touch()
                raise RuntimeError(f"{p.name} is flaky")
    rows = [(p.name, len(p.read_bytes())) for p in mini_batch if not p.name.startswith("fail_")]
    return pd.DataFrame(rows, columns=["file", "size"])
