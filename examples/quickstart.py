"""Quickstart: train and evaluate a diabetes classifier as a four-step headrace pipeline.

Run it with ``headrace run examples/quickstart.py`` (or ``python examples/quickstart.py``);
run it again and every step is reused; change ``--param reg_rate=0.1`` and only the
training and evaluation steps run again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd

from headrace.engine import component, get_run_context, pipeline


@component(description="Load scikit-learn's diabetes data with a binary 'Diabetic' label.")
def load_data(threshold_quantile: float = 0.5) -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    cut = frame["target"].quantile(threshold_quantile)
    frame["Diabetic"] = (frame["target"] > cut).astype(int)
    get_run_context().log("rows", len(frame))
    return frame.drop(columns="target")


@component
def prep(
    data: pd.DataFrame, test_size: float = 0.3, seed: int = 0
) -> tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
    """Scale the features and split into train and test tables."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    features = data.drop(columns="Diabetic")
    scaled = pd.DataFrame(StandardScaler().fit_transform(features), columns=features.columns)
    scaled["Diabetic"] = data["Diabetic"].to_numpy()
    train, test = train_test_split(scaled, test_size=test_size, random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


@component
def train(train: pd.DataFrame, reg_rate: float = 0.01) -> Annotated[object, "model"]:
    """Fit a logistic regression with regularization rate ``reg_rate`` (C = 1 / reg_rate)."""
    from sklearn.linear_model import LogisticRegression

    ctx = get_run_context()
    ctx.log("reg_rate", reg_rate)
    model = LogisticRegression(C=1 / reg_rate, solver="liblinear")
    model.fit(train.drop(columns="Diabetic"), train["Diabetic"])
    ctx.log("train_accuracy", float(model.score(train.drop(columns="Diabetic"), train["Diabetic"])))
    return model


@component
def evaluate(
    model: object, test: pd.DataFrame
) -> tuple[Annotated[float, "accuracy"], Annotated[Path, "report"]]:
    """Score the model on the test split; log accuracy and AUC; write a JSON report."""
    from sklearn.metrics import roc_auc_score

    x, y = test.drop(columns="Diabetic"), test["Diabetic"]
    accuracy = float(model.score(x, y))  # type: ignore[attr-defined]
    auc = float(roc_auc_score(y, model.predict_proba(x)[:, 1]))  # type: ignore[attr-defined]
    ctx = get_run_context()
    ctx.log("accuracy", accuracy)
    ctx.log("auc", auc)
    report = ctx.output_dir / "report.json"
    report.write_text(json.dumps({"accuracy": accuracy, "auc": auc, "rows": len(test)}, indent=2))
    return accuracy, report


@pipeline(name="diabetes-training")
def training(reg_rate: float = 0.01, test_size: float = 0.3):
    """Load → prep → train → evaluate."""
    data = load_data()
    split = prep(data=data, test_size=test_size)
    model = train(train=split.outputs.train, reg_rate=reg_rate)
    scores = evaluate(model=model, test=split.outputs.test)
    return {"model": model, "accuracy": scores.outputs.accuracy, "report": scores.outputs.report}


if __name__ == "__main__":
    run = training.submit(params={"reg_rate": 0.1})
    print(run.status, "accuracy:", run.outputs["accuracy"].load())
