"""A slow module-style entry: every run() call sleeps, then leaves a marker naming its items."""

import time
import uuid
from pathlib import Path

import pandas as pd

_counter = None


def init(counter, delay):
    global _counter, _delay
    _counter, _delay = Path(counter), delay
    _counter.mkdir(parents=True, exist_ok=True)


def run(mini_batch):
    time.sleep(_delay)
    (_counter / f"{uuid.uuid4().hex}.call").write_text("\n".join(p.name for p in mini_batch))
    return pd.DataFrame(
        {"file": [p.name for p in mini_batch], "size": [p.stat().st_size for p in mini_batch]}
    )
