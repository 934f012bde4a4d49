"""Build-time validation should report every problem at once (issue 2, item 3)."""

from typing import Annotated

import pytest

from headrace.engine import component, pipeline
from headrace.engine.errors import DefinitionError


@component
def train(x: float) -> tuple[Annotated[float, "model"], Annotated[float, "score"]]:
    return x, x


@component
def evaluate(model: float) -> float:
    return model


@pipeline
def two_mistakes(x: float = 1.0):
    t = train(x=x)
    e = evaluate(model=t.outputs.modle)  # typo 1: unknown output
    evaluate(modle=t.outputs.model)  # typo 2: unknown argument
    return {"e": e}


def test_all_problems_reported():
    with pytest.raises(DefinitionError) as info:
        two_mistakes.validate()
    text = str(info.value)
    assert "modle" in text and "unknown argument" in text, text
