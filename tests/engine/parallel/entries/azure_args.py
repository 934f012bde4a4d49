"""An unported Azure entry script: reads its options with argparse in init()."""

import argparse
import os

import pandas as pd

_opts = None


def init():
    global _opts
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--label", default="x")
    _opts = parser.parse_args()


def run(mini_batch):
    return pd.DataFrame(
        {
            "file": [p.name for p in mini_batch],
            "scaled": [len(p.read_bytes()) * _opts.scale for p in mini_batch],
            "label": _opts.label,
            "env": os.environ.get("SCORE_ENV", ""),
        }
    )
