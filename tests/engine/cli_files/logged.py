"""A pipeline that prints, logs, logs metrics, and writes a table, an object and a folder."""

import logging
import time
from pathlib import Path
from typing import Annotated

import pandas as pd

from headrace.engine import component, get_run_context, pipeline


@component
def prep(rows: int) -> pd.DataFrame:
    print(f"preparing {rows} rows")
    logging.getLogger("prep").warning("this is a warning record")
    return pd.DataFrame({"x": range(rows), "y": [2.5 * i for i in range(rows)]})


@component
def train(
    data: pd.DataFrame, rate: float, fail_over: float
) -> tuple[Annotated[object, "model"], Annotated[float, "score"]]:
    ctx = get_run_context()
    for epoch in range(4):
        print(f"epoch {epoch}")
        ctx.log("loss", 1.0 / (epoch + 1))
    if rate > fail_over:
        raise ValueError(f"rate {rate} is too high")
    score = 10910.3 * rate
    ctx.log("score", score)
    return {"weights": [rate] * 3}, score


@component
def report(score: float, pause: float) -> Path:
    for i in range(int(pause * 10)):
        print(f"writing {i}", flush=True)
        time.sleep(0.1)
    folder = get_run_context().output_dir / "report"
    folder.mkdir()
    (folder / "summary.txt").write_text(f"score {score}\n")
    (folder / "extra.txt").write_text("more\n")
    return folder


@pipeline(name="logged")
def logged(rows: int = 6, rate: float = 0.1, fail_over: float = 1.0, pause: float = 0.0):
    data = prep(rows=rows)
    trained = train(data=data, rate=rate, fail_over=fail_over)
    return {
        "train": data,
        "model": trained.outputs.model,
        "score": trained.outputs.score,
        "report": report(score=trained.outputs.score, pause=pause),
        "rate": rate,
    }
