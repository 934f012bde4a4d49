"""An unported Azure entry script that reads its options and environment at import."""

import argparse
import os

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float, required=True)
OPTIONS, _ = parser.parse_known_args()
MODEL_DIR = os.environ["MODEL_DIR"]


def run(mini_batch):
    return pd.DataFrame(
        {
            "file": [p.name for p in mini_batch],
            "scale": OPTIONS.scale,
            "model_dir": MODEL_DIR,
        }
    )
