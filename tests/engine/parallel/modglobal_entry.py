"""An Azure-style module entry: init() keeps its side input in a module global, and run()
pickles an instance of the module's own class (as a per-item cache or a queue would)."""

import os
import pickle
import time
from dataclasses import dataclass

import pandas as pd

_scale = None


@dataclass
class Scale:
    factor: int


def init(scale):
    global _scale
    _scale = scale


def run(mini_batch):
    time.sleep(0.05)
    factor = pickle.loads(pickle.dumps(Scale(_scale))).factor
    return pd.DataFrame(
        {
            "file": [p.name for p in mini_batch],
            "scaled": [factor * int(p.name[1:]) for p in mini_batch],
            "mode": os.environ.get("R12_MODE", "default"),
        }
    )
