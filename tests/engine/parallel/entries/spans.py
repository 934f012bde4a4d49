"""An entry that notes when each run() call began and ended, to see calls overlap."""

import json
import time
import uuid
from pathlib import Path


def init(spans):
    global _spans
    _spans = Path(spans)
    _spans.mkdir(parents=True, exist_ok=True)


def run(mini_batch):
    began = time.time()
    time.sleep(0.2)
    (_spans / f"{uuid.uuid4().hex}.json").write_text(json.dumps([began, time.time()]))
    return [p.name for p in mini_batch]
