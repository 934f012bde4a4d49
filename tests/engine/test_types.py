"""Parameter coercion and type compatibility."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal, Optional

import pandas as pd
import pyarrow as pa
import pytest

from headrace.engine.types import coerce, is_compatible


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("3", int, 3),
        (3.0, int, 3),
        ("0.5", float, 0.5),
        (2, float, 2.0),
        ("yes", bool, True),
        ("off", bool, False),
        ("x", str, "x"),
        ("a.csv", Path, Path("a.csv")),
        ("s3://b/k.csv", Path, "s3://b/k.csv"),
        ("a.csv,b.csv", list[Path], [Path("a.csv"), Path("b.csv")]),
        ('["a,1.csv", "b.csv"]', list[Path], [Path("a,1.csv"), Path("b.csv")]),
        ("fast", Mode, Mode.FAST),
        ("SLOW", Mode, Mode.SLOW),
        ("b", Literal["a", "b"], "b"),
        ("none", Optional[int], None),
        ("4", Optional[int], 4),
    ],
)
def test_coerce(value, annotation, expected) -> None:
    assert coerce(value, annotation) == expected


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        ("x", int, "expected an int, got 'x'"),
        (True, int, "expected int, got the bool True"),
        (2.5, int, "expected an int, got the float 2.5"),
        ("maybe", bool, "expected a bool"),
        ("c", Literal["a", "b"], r"expected one of \['a', 'b'\]"),
        ("medium", Mode, "expected one of"),
        (3, str, "expected a str, got int 3"),
        ('["a"', list[Path], "expected a JSON list of paths"),
    ],
)
def test_coerce_errors(value, annotation, message) -> None:
    with pytest.raises(ValueError, match=message):
        coerce(value, annotation)


def test_compatibility() -> None:
    assert is_compatible(int, float) and not is_compatible(float, int)
    assert is_compatible(pd.DataFrame, pa.Table)  # tables convert on load
    assert not is_compatible(pd.DataFrame, int)
    assert is_compatible(str, Path, from_parameter=True) and not is_compatible(str, Path)
    assert is_compatible(Literal["a"], Literal["a", "b"]) and not is_compatible(str, Literal["a"])
    assert is_compatible(bool, object) and is_compatible(dict, dict)
