"""Parameter coercion, type compatibility between steps, and checks of returned values."""

from __future__ import annotations

import enum
import numbers
import os
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypeVar, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from headrace.engine.types import check_output, coerce, describe, is_compatible, mismatch


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


class Base:
    pass


class Derived(Base):
    pass


T = TypeVar("T")

COMPATIBLE = [
    (list[int], list[float]),
    (list[int], Sequence[int]),
    (typing.List[int], list[int]),  # noqa: UP006 - the typing alias is compared by origin
    (list, list[str]),
    (list[str], list),
    (list[Any], list[str]),
    (list[str], list[Any]),
    (Any, dict[str, int]),
    (dict[str, int], Mapping[str, float]),
    (dict[str, int], Iterable[str]),
    (tuple[int, str], tuple[int, str]),
    (tuple[int, ...], tuple[float, ...]),
    (tuple[int, int], Sequence[int]),
    (tuple[int, ...], tuple[int, int]),
    (frozenset[int], AbstractSet[int]),
    (Optional[int], int),
    (int, Optional[int]),
    (int, Union[int, str]),
    (Union[int, str], Union[str, int]),
    (Annotated[list[int], "x"], list[Annotated[int, "y"]]),
    (Derived, Base),
    (list[Derived], Sequence[Base]),
    (type[Derived], type[Base]),
    (int, numbers.Number),
    (np.float64, float),
    (Path, os.PathLike),
    (list[Path], tuple[Path, ...]),
    (list[Path], Sequence[Path]),
    (Literal["a"], str),
    (list[Literal["a"]], list[str]),
    (T, int),
    (Callable[[int], str], Callable[[str], str]),  # signatures are not compared
    (pa.Table, Optional[pd.DataFrame]),
]

INCOMPATIBLE = [
    (list[int], list[str], (int, str)),
    (dict[str, int], dict[str, str], (int, str)),
    (dict[str, list[int]], dict[str, list[str]], (int, str)),
    (Mapping[str, int], dict[str, int], (Mapping[str, int], dict[str, int])),
    (set[int], set[str], (int, str)),
    (tuple[int, str], tuple[int, int], (str, int)),
    (tuple[int, str], Sequence[int], (str, int)),
    (tuple[int, int], tuple[int, int, int], (tuple[int, int], tuple[int, int, int])),
    (list[int], tuple[int, ...], (list[int], tuple[int, ...])),
    (Optional[list[int]], list[str], (int, str)),
    (Union[int, str], int, (str, int)),
    (int, Union[str, bytes], (int, Union[str, bytes])),
    (Base, Derived, (Base, Derived)),
    (list[Base], list[Derived], (Base, Derived)),
    (float, int, (float, int)),
    (bool, int, (bool, int)),
    (object, int, (object, int)),
    (Literal["a"], list[str], (Literal["a"], list[str])),
    (list[str], list[Path], (str, Path)),
    (pd.DataFrame, dict, (pd.DataFrame, dict)),
]


@pytest.mark.parametrize(("src", "dst"), COMPATIBLE, ids=repr)
def test_generic_compatibility(src, dst) -> None:
    assert is_compatible(src, dst)
    assert mismatch(src, dst) is None


@pytest.mark.parametrize(("src", "dst", "pair"), INCOMPATIBLE, ids=repr)
def test_generic_incompatibility_names_the_innermost_pair(src, dst, pair) -> None:
    assert not is_compatible(src, dst)
    assert mismatch(src, dst) == pair


def test_parameters_coerce_into_paths_also_inside_optional() -> None:
    assert is_compatible(Optional[str], Path, from_parameter=True)
    assert is_compatible(str, list[Path], from_parameter=True)
    assert not is_compatible(int, Path, from_parameter=True)


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        (3, float, 3.0),
        (np.float64(1.5), float, 1.5),
        (np.float32(0.25), float, 0.25),
        (np.int64(2), int, 2),
        (np.int64(2), float, 2.0),
        (np.bool_(True), bool, True),
        (np.str_("x"), str, "x"),
        (None, Optional[float], None),
        (None, Optional[pd.DataFrame], None),
        (2, Optional[float], 2.0),
        ("b", Literal["a", "b"], "b"),
        (Mode.FAST, Mode, Mode.FAST),
        ("a.csv", Path, Path("a.csv")),
        (("a", Path("b")), list[Path], [Path("a"), Path("b")]),
        ([1], list[str], [1]),  # items are not inspected
        (5, Union[int, str], 5),
        ("x", Any, "x"),
    ],
)
def test_check_output_accepts_and_converts(value, annotation, expected) -> None:
    out = check_output(value, annotation)
    assert out == expected and type(out) is type(expected)


def test_check_output_accepts_tables_of_either_flavor_and_subclasses() -> None:
    df, table, derived = pd.DataFrame({"x": [1]}), pa.table({"x": [1]}), Derived()
    assert check_output(df, pa.Table) is df and check_output(table, pd.DataFrame) is table
    assert (
        check_output(derived, Base) is derived and check_output(derived, Optional[Base]) is derived
    )


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        ("1.5", float, r"^expected a float, got str '1\.5'$"),
        (True, int, r"^expected an int, got bool True$"),
        (True, float, r"^expected a float, got bool True$"),
        (np.bool_(False), int, r"^expected an int, got bool False$"),
        (2.0, int, r"^expected an int, got float 2\.0$"),
        (1, bool, r"^expected a bool, got int 1$"),
        (Path("x"), str, r"^expected a str, got PosixPath PosixPath\('x'\)$"),
        ("c", Literal["a", "b"], r"^expected one of \['a', 'b'\], got str 'c'$"),
        ("fast", Mode, r"^expected a tests\.Mode member, got str 'fast'$"),
        ("abc", Optional[float], r"^expected a float, got str 'abc'$"),
        (2.5, Union[int, str], r"^expected Union\[int, str\], got float 2\.5$"),
        ({"a": 1}, pd.DataFrame, r"^expected a pandas\.DataFrame or pyarrow\.Table, got dict"),
        (np.zeros((2, 3)), pa.Table, r"got numpy\.ndarray of shape \(2, 3\)$"),
        (3, Path, r"^expected a pathlib\.Path to a file or folder, got int 3$"),
        ("", Path, r"^expected a pathlib\.Path to a file or folder, got str ''$"),
        ("a", list[Path], r"^expected a list of pathlib\.Path, got str 'a'$"),
        (["a", 3], list[Path], r"got int 3 at index 1$"),
        ({"a": 1}, Base, r"^expected tests\.Base, got dict \{'a': 1\}$"),
        ([1], dict[str, int], r"^expected dict\[str, int\], got list \[1\]$"),
        ("x" * 500, int, r"^expected an int, got str 'x{20,40}\.\.\.x{20,40}'$"),
    ],
)
def test_check_output_rejects_with_what_came_back(value, annotation, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_output(value, annotation)


def test_describe_survives_a_failing_repr() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert describe(Broken()).startswith("tests.Broken <Broken instance at 0x")
    assert describe(None) == "None"
    assert describe(pd.DataFrame({"x": range(5)})) == "pandas.DataFrame of shape (5, 1)"


def test_every_sequence_of_paths_is_one_kind_for_the_engine_and_fingerprints() -> None:
    """One classifier: the store, coercion, fingerprints and the scheduler all ask kind_of."""
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from headrace.engine.fingerprint.keys import _annotation_kind
    from headrace.engine.types import PATHS, kind_of

    for ann in (list[Path], tuple[Path, ...], Sequence[Path], Iterable[Path]):
        assert kind_of(ann) == PATHS
        assert _annotation_kind(ann) == "paths"
