"""@component: typing of inputs and outputs, options, errors, plain calls."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pandas as pd
import pyarrow as pa
import pytest

from headrace.engine import DefinitionError, component
from headrace.engine.types import OBJECT, PARAMETER, PATH, PATHS, TABLE


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_kinds_follow_annotations() -> None:
    @component
    def f(
        a: int,
        b: float,
        c: str,
        d: bool,
        e: Literal["x", "y"],
        g: Color,
        h: Optional[int],
        t: pd.DataFrame,
        u: pa.Table,
        p: Path,
        ps: list[Path],
        o: dict,
        anything: Any,
    ) -> None: ...

    kinds = {p.name: p.kind for p in f.inputs}
    assert kinds == {
        "a": PARAMETER,
        "b": PARAMETER,
        "c": PARAMETER,
        "d": PARAMETER,
        "e": PARAMETER,
        "g": PARAMETER,
        "h": PARAMETER,
        "t": TABLE,
        "u": TABLE,
        "p": PATH,
        "ps": PATHS,
        "o": OBJECT,
        "anything": OBJECT,
    }
    assert f.outputs == ()


def test_outputs_single_named_and_tuple() -> None:
    @component
    def one(x: int) -> pd.DataFrame: ...

    @component
    def named(x: int) -> Annotated[float, "score"]: ...

    @component
    def several(x: int) -> tuple[Annotated[object, "model"], Annotated[float, "accuracy"], int]: ...

    assert [p.name for p in one.outputs] == ["output"]
    assert [p.name for p in named.outputs] == ["score"]
    assert [(p.name, p.kind) for p in several.outputs] == [
        ("model", OBJECT),
        ("accuracy", PARAMETER),
        ("output_2", PARAMETER),
    ]


def test_options_and_defaults() -> None:
    @component(
        name="Trainer", version=2, allow_reuse=False, deterministic=False, retries=2, timeout=5
    )
    def train(data: pd.DataFrame, reg_rate: float = 0.01) -> object:
        """Train a model.

        More text.
        """

    assert train.name == "Trainer" and train.version == "2"
    assert (train.allow_reuse, train.deterministic, train.retries, train.timeout) == (
        False,
        False,
        2,
        5,
    )
    assert train.description == "Train a model."
    assert train.input("reg_rate").default == 0.01 and not train.input("reg_rate").required
    assert train.input("data").required


def test_calling_outside_a_pipeline_runs_the_function() -> None:
    @component
    def double(x: int) -> int:
        return 2 * x

    assert double(21) == 42
    assert double(x=4) == 8
    assert double.__wrapped__(3) == 6
    assert double.__name__ == "double"


def test_missing_annotations_are_all_reported() -> None:
    with pytest.raises(DefinitionError) as info:

        @component
        def bad(a, b: int, c):  # type: ignore[no-untyped-def]
            return a

    text = str(info.value)
    assert "component 'bad' is not valid" in text
    assert "argument 'a' has no type annotation" in text
    assert "argument 'c' has no type annotation" in text
    assert "the return value has no annotation" in text and "-> None" in text
    assert len(info.value.problems) == 3


def test_bad_options_and_varargs() -> None:
    with pytest.raises(DefinitionError, match=r"retries=-1: give a whole number >= 0"):

        @component(retries=-1)
        def r(x: int) -> int: ...

    with pytest.raises(DefinitionError, match=r"timeout=0: give a number of seconds > 0"):

        @component(timeout=0)
        def t(x: int) -> int: ...

    with pytest.raises(DefinitionError, match=r"\*args/\*\*kwargs cannot be typed inputs"):

        @component
        def v(*xs: int) -> int: ...


def test_duplicate_output_names() -> None:
    with pytest.raises(DefinitionError, match="output name 'a' is used twice"):

        @component
        def d(x: int) -> tuple[Annotated[int, "a"], Annotated[int, "a"]]: ...
