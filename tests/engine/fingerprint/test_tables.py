"""Table and object fingerprints, input dispatch and the cache key."""

from __future__ import annotations

import enum
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headrace.engine.fingerprint.keys import (
    cache_key,
    fingerprint_input,
    fingerprint_object,
    fingerprint_path,
    fingerprint_table,
    fingerprint_value,
)

PAST = time.time() - 3600  # an mtime safely outside the racy window


class Color(enum.Enum):
    RED = 1


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


# ----------------------------------------------------------------------------------- tables


def _table():
    import pyarrow as pa

    return pa.table(
        {
            "i": pa.array([1, None, 3, 4, 5, 6, 7]),
            "s": pa.array(["a", "bb", None, "", "ccc", "d", "é"]),
            "b": pa.array([True, False, None, True, True, False, True]),
            "l": pa.array([[1], [], None, [2, 3], [4], [5], [6]]),
            "c": pa.array(["x", "y", "x", "x", "y", "x", "y"]).dictionary_encode(),
        }
    )


@given(st.lists(st.integers(1, 7), max_size=7))
def test_table_chunking_does_not_matter(cuts: list[int]) -> None:
    import pyarrow as pa

    table = _table()
    bounds = sorted({0, 7, *cuts})
    pieces = [table.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]
    rechunked = pa.concat_tables(pieces)
    assert fingerprint_table(rechunked) == fingerprint_table(table)
    assert fingerprint_table(rechunked.combine_chunks()) == fingerprint_table(table)


def test_table_sees_values_types_names_and_nulls() -> None:
    import pyarrow as pa

    table = _table()
    base = fingerprint_table(table)
    changed = [
        table.set_column(0, "i", pa.array([1, None, 3, 4, 5, 6, 8])),
        table.set_column(0, "i", pa.array([1, 0, 3, 4, 5, 6, 7])),  # null -> 0
        table.set_column(0, "i", table.column("i").cast(pa.int32())),
        table.rename_columns(["j", "s", "b", "l", "c"]),
        table.set_column(1, "s", pa.array(["a", "b", None, "b", "ccc", "d", "é"])),  # moved bytes
        table.slice(0, 6),
    ]
    assert len({base, *map(fingerprint_table, changed)}) == len(changed) + 1


def test_dataframe_by_data_dtypes_and_index() -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"x": np.arange(5, dtype="int64"), "y": list("abcde")})
    base = fingerprint_table(frame)
    assert fingerprint_table(frame.copy()) == base
    variants = [
        frame.assign(x=frame.x.astype("int32")),
        frame.assign(x=frame.x.astype("float64")),
        frame.rename(columns={"y": "z"}),
        frame.set_axis(list("vwxyz")),
        frame.assign(y=list("abcdf")),
        frame[["y", "x"]],
    ]
    assert len({base, *map(fingerprint_table, variants)}) == len(variants) + 1


def test_dataframe_pyarrow_cannot_convert_falls_back() -> None:
    import pandas as pd

    mixed = pd.DataFrame({"a": [1, "x", 2.5]})
    assert fingerprint_table(mixed) == fingerprint_table(mixed.copy())
    assert fingerprint_table(mixed) != fingerprint_table(pd.DataFrame({"a": [1, "x", 3.5]}))
    with pytest.raises(TypeError, match="takes a DataFrame or a pyarrow Table"):
        fingerprint_table([1, 2])


# ---------------------------------------------------------------------------------- objects


class _Model:
    def __init__(self, weights: list[float]) -> None:
        self.weights = weights


def test_objects_by_pickle() -> None:
    assert fingerprint_object(_Model([1.0])) == fingerprint_object(_Model([1.0]))
    assert fingerprint_object(_Model([1.0])) != fingerprint_object(_Model([2.0]))
    offset = 3
    assert fingerprint_object(lambda x: x + offset) is not None  # cloudpickle fallback
    assert fingerprint_object(threading.Lock()) is None


def test_input_dispatch(folder: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1]})
    assert fingerprint_input(folder) == fingerprint_path(folder)
    assert fingerprint_input(frame) == fingerprint_table(frame)
    assert fingerprint_input(0.5, float) == fingerprint_value(0.5)
    assert fingerprint_input(_Model([1.0])) == fingerprint_object(_Model([1.0]))
    assert fingerprint_input(threading.Lock()) is None
    paths = [folder / "a.csv", folder / "sub"]
    ordered = fingerprint_input(paths, list[Path])
    assert ordered == fingerprint_input(paths) != fingerprint_input(paths[::-1])
    assert fingerprint_input([str(p) for p in paths], list[Path]) == ordered
    assert fingerprint_input([], list[Path]) != fingerprint_input([])


def test_cache_key_combines_named_ingredients() -> None:
    a, b, c = (fingerprint_value(n) for n in range(3))
    key = cache_key(a, {"x": b, "y": c}, {"data": a})
    assert key == cache_key(a, {"y": c, "x": b}, {"data": a})
    assert key != cache_key(a, {"x": c, "y": b}, {"data": a})
    assert key != cache_key(a, {"x": b}, {"y": c, "data": a})
    assert key != cache_key(b, {"x": b, "y": c}, {"data": a})
    with pytest.raises(ValueError, match="input 'data' has no fingerprint"):
        cache_key(a, {}, {"data": None})  # type: ignore[dict-item]
