"""The entry script of the batch-scoring example, in Azure's shape: init() once per worker
process, run(mini_batch) per mini-batch of image files."""

import numpy as np
import pandas as pd
from PIL import Image

model = None


def init(model_in):
    """Load once per worker: the trained model arrives as the side input ``model_in``."""
    global model
    model = model_in


def run(mini_batch):
    """Score a list of PNG paths; one row per file, named by the ``file`` column."""
    pixels = np.stack([np.asarray(Image.open(p), dtype=np.float64).ravel() for p in mini_batch])
    return pd.DataFrame(
        {
            "file": [p.name for p in mini_batch],
            "digit": model.predict(pixels),
            "confidence": model.predict_proba(pixels).max(axis=1),
        }
    )
