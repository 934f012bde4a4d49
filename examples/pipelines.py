"""Pipelines the README's command lines run: ``headrace run examples/pipelines.py:training``.

``training`` is the quickstart's four steps (load, prep, train, evaluate) under the name the
README uses; ``tuning`` trains two regularization rates side by side on the same prepared
data, so the second run of either reuses every shared step.
"""

from __future__ import annotations

from quickstart import evaluate, load_data, prep, train  # the folder is on sys.path

from headrace.engine import pipeline


@pipeline(name="training")
def training(reg_rate: float = 0.01, test_size: float = 0.3):
    """Load → prep → train → evaluate."""
    split = prep(data=load_data(), test_size=test_size)
    model = train(train=split.outputs.train, reg_rate=reg_rate)
    scores = evaluate(model=model, test=split.outputs.test)
    return {"model": model, "accuracy": scores.outputs.accuracy}


@pipeline(name="tuning")
def tuning(low: float = 0.01, high: float = 1.0):
    """Two models from one split: the split is computed once, each model reuses it."""
    split = prep(data=load_data())
    first = evaluate(model=train(train=split.outputs.train, reg_rate=low), test=split.outputs.test)
    second = evaluate(
        model=train(train=split.outputs.train, reg_rate=high), test=split.outputs.test
    )
    return {"low": first.outputs.accuracy, "high": second.outputs.accuracy}


if __name__ == "__main__":
    run = training.submit(params={"reg_rate": 0.1})
    print(run.status, "accuracy:", run.outputs["accuracy"].load())
