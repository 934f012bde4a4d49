"""A file entry whose items say how long to take: a file holding ``SLEEP<seconds>`` sleeps."""

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
    texts = [p.read_text() for p in mini_batch]
    (_counter / f"{uuid.uuid4().hex}.call").write_text("\n".join(p.name for p in mini_batch))
    for text in texts:
        if text.startswith("SLEEP"):
            time.sleep(float(text[5:]))
    return pd.DataFrame({"file": [p.name for p in mini_batch], "text": texts})
