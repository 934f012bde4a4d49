"""Module-style entry: init() receives the model side input, run() predicts a mini-batch."""

import pandas as pd

_model = None


def init(model):
    global _model
    _model = model


def run(mini_batch: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"prediction": _model.predict(mini_batch)})
