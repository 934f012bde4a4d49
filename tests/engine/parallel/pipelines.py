"""Pipelines and helpers the parallel-run tests share (entries live in entries/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd

from headrace.engine import component, parallel_run, pipeline

ENTRIES = Path(__file__).parent / "entries"


class IrisScorer:
    """Class-style entry: __init__ loads (receives the model side input), __call__ scores."""

    def __init__(self, model: object, column: str = "prediction"):
        self.model = model
        self.column = column

    def __call__(self, mini_batch: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"row": mini_batch.index, self.column: self.model.predict(mini_batch)})


@component
def iris_training() -> tuple[Annotated[pd.DataFrame, "features"], Annotated[object, "model"]]:
    """The iris features and a logistic regression fitted on them."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True, as_frame=True)
    return x, LogisticRegression(max_iter=1000).fit(x, y)


iris_module = parallel_run(entry="entries/iris_score.py", name="score", max_concurrency=2)
iris_class = parallel_run(entry=IrisScorer, name="score", max_concurrency=2)


@pipeline(name="iris-module")
def iris_by_module(batch_size: int = 16):
    trained = iris_training()
    scored = iris_module(
        data=trained.outputs.features, model=trained.outputs.model, mini_batch_size=batch_size
    )
    return {"results": scored.outputs.results, "model": trained.outputs.model}


@pipeline(name="iris-class")
def iris_by_class(batch_size: int = 25):
    trained = iris_training()
    scored = iris_class(
        data=trained.outputs.features, model=trained.outputs.model, mini_batch_size=batch_size
    )
    return {"results": scored.outputs.results, "model": trained.outputs.model}


@component
def digits_training() -> Annotated[object, "model"]:
    """A classifier of sklearn's 8x8 digits (pixel values 0..16)."""
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    digits = load_digits()
    return KNeighborsClassifier(n_neighbors=3).fit(digits.data, digits.target)


digits_score = parallel_run(entry="entries/digits_score.py", name="digits", max_concurrency=2)


@pipeline(name="digits-files")
def digits_files(images: Path, batch_size: int = 10):
    model = digits_training()
    scored = digits_score(data=images, model=model, mini_batch_size=batch_size)
    return {"results": scored.outputs.results, "model": model}


def write_digits(folder: Path, count: int, start: int = 0) -> list[int]:
    """Write sklearn digits ``start..start+count`` as PNG files; return their labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        img = digits.images[i].astype(np.uint8)
        Image.fromarray(img, mode="L").save(folder / f"digit_{i:05d}.png")
    return [int(t) for t in digits.target[start : start + count]]


def calls(counter: Path) -> list[list[str]]:
    """The mini-batches run() was called with (file names), from the entry's markers."""
    if not counter.exists():
        return []
    return [p.read_text().split("\n") for p in counter.glob("*.call")]


def write_files(folder: Path, names: list[str], text: str = "x") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"{name}:{text}")
