"""An Azure-style module entry: init() keeps its side input in a module global."""

import os
import time

import pandas as pd

_scale = None


def init(scale):
    global _scale
    _scale = scale


def run(mini_batch):
    time.sleep(0.05)
    return pd.DataFrame(
        {
            "file": [p.name for p in mini_batch],
            "scaled": [_scale * int(p.name[1:]) for p in mini_batch],
            "mode": os.environ.get("R12_MODE", "default"),
        }
    )
