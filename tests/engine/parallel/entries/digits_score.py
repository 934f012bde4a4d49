"""Module-style entry for digits PNGs: init() gets the trained model, run() predicts each file."""

import numpy as np
import pandas as pd
from PIL import Image

_model = None


def init(model):
    global _model
    _model = model


def run(mini_batch):
    pixels = np.stack([np.asarray(Image.open(p), dtype=np.float64).ravel() for p in mini_batch])
    return pd.DataFrame({"file": [p.name for p in mini_batch], "digit": _model.predict(pixels)})
