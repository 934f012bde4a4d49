"""What ``run(mini_batch)`` returned, as rows keyed to their items, and the step's ordered table.

``run()`` returns one element per item that succeeded (a DataFrame, list or tuple). Fewer
elements than items count as failed items; a DataFrame that carries the item key column
(``file`` or ``row``) names exactly which items succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

POS = "__pos"
"""The column of a stored mini-batch result holding each row's item position in the batch."""
ITEM = "__item"
"""The column of a stored file mini-batch result holding each row's item key."""


@dataclass(frozen=True)
class Scored:
    """One mini-batch's outcome.

    Attributes:
        rows: a DataFrame with ``__pos`` then what run() returned (None for summary_only).
        failed: positions of the items without a result.
        named: whether the failed items are known exactly (a key column was returned).
    """

    rows: Any
    failed: tuple[int, ...]
    named: bool


def normalize(
    returned: Any,
    key_column: str,
    keys: Sequence[Any],
    keep_rows: bool,
    label: str,
    paths: Sequence[str] = (),
) -> Scored:
    """Key the returned elements to the mini-batch's items.

    Args:
        returned: what run() returned.
        key_column: "file" or "row".
        keys: the key column's value for each item of the mini-batch, in order (names of
            files, or row numbers); file items also match by absolute path and base name.
        keep_rows: False for summary_only (only the counts matter).
        label: how messages name the entry.
        paths: the absolute paths of file items (they match too).

    Raises:
        TypeError: run() returned something that is not a DataFrame, list or tuple.
        ValueError: more elements than items, or a key value that is not in the mini-batch.
    """
    import numpy as np
    import pandas as pd

    n = len(keys)
    if isinstance(returned, pd.DataFrame):
        frame = returned.reset_index(drop=True)
        if key_column == "row" and key_column not in frame.columns:
            rows = _rows_of_index(returned.index, keys)
            if rows is not None:  # a filtered or reordered mini-batch: its index names the rows
                frame.insert(0, key_column, rows)
    elif isinstance(returned, (list, tuple)):
        frame = _frame_of(list(returned))
    elif returned is None:
        raise TypeError(
            f"run() of {label} returned None; return a DataFrame, list or tuple with one "
            "element per item that succeeded (Azure's rule)"
        )
    else:
        raise TypeError(
            f"run() of {label} returned {type(returned).__name__}; return a DataFrame, list "
            "or tuple with one element per item that succeeded"
        )
    named = key_column in frame.columns
    if named and key_column == "row":
        positions = _row_positions(frame.pop(key_column), keys, label)
    elif named:
        positions = np.asarray(_positions(frame.pop(key_column), keys, label, paths), dtype="int64")
    else:
        if len(frame) > n:
            raise ValueError(
                f"run() of {label} returned {len(frame)} elements for a mini-batch of {n} "
                f"items; return at most one per item (or a {key_column!r} column naming each)"
            )
        positions = np.arange(len(frame), dtype="int64")
    if named and len(positions) > 1:
        _refuse_repeats(positions, keys, key_column, label)
    missing = np.ones(n, dtype=bool)
    missing[positions] = False
    failed = tuple(np.flatnonzero(missing).tolist())
    if not keep_rows:
        return Scored(None, failed, named)
    frame.insert(0, POS, positions)
    return Scored(frame, failed, named)


def _rows_of_index(index: Any, keys: Sequence[Any]) -> Any:
    """The row numbers a filtered mini-batch's index names; None for any other index, whose
    elements count by position (Azure's rule).

    A table mini-batch comes with its row numbers as its index, so a result that dropped the
    rows it could not score (``mb[mb.x >= 0].assign(...)``) keeps the others' numbers: fewer
    rows than the mini-batch, in increasing order, each one of its rows. Anything else (a
    fresh ``0..k-1``, ids of the user's own, a reordering) counts by position; for a result
    of every row, both agree.
    """
    import numpy as np

    n = len(keys)
    if not n or not 0 < len(index) < n or index.dtype.kind not in "iu":
        return None
    if not index.is_monotonic_increasing or not index.is_unique:
        return None
    values = index.to_numpy()
    start = int(keys[0])
    if values[0] < start or values[-1] >= start + n:
        return None
    return values.astype(np.int64, copy=False)


def _row_positions(column: Any, keys: Sequence[Any], label: str) -> Any:
    """Positions of returned ``row`` values in a mini-batch of consecutive rows (vectorized)."""
    import numpy as np

    start = int(keys[0]) if len(keys) else 0
    try:
        positions = np.asarray(column, dtype="int64") - start
    except (TypeError, ValueError):
        positions = np.full(len(column), -1, dtype="int64")
    bad = np.flatnonzero((positions < 0) | (positions >= len(keys)))
    if len(bad):
        value = column.iloc[int(bad[0])]
        raise ValueError(
            f"run() of {label} returned row={value!r}, which is not an item of its mini-batch "
            f"(rows {start} to {start + len(keys) - 1}); return the row values of the "
            "mini-batch it was given (its index)"
        )
    return positions


def _refuse_repeats(positions: Any, keys: Sequence[Any], key_column: str, label: str) -> None:
    """Two returned rows keyed to one item: which one holds its result cannot be told."""
    import numpy as np

    counts = np.bincount(positions, minlength=len(keys))
    twice = np.flatnonzero(counts > 1)
    if len(twice):
        item = keys[int(twice[0])]
        raise ValueError(
            f"run() of {label} returned {int(counts[twice[0]])} rows for {key_column}="
            f"{item!r}; return at most one row per item of the mini-batch"
        )


def _frame_of(values: list[Any]) -> Any:
    import pandas as pd

    if values and all(isinstance(v, dict) for v in values):
        return pd.DataFrame(values)
    return pd.DataFrame({"result": pd.Series(values, dtype=object if not values else None)})


def _positions(column: Any, keys: Sequence[Any], label: str, paths: Sequence[str]) -> list[int]:
    """Positions of returned ``file`` values: by name, absolute path or (unique) base name."""
    lookup: dict[str, int] = {p: i for i, p in enumerate(paths)}
    names: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        lookup[str(k)] = i
        names.setdefault(str(k).rsplit("/", 1)[-1], []).append(i)
    for name, found in names.items():
        if len(found) == 1:
            lookup.setdefault(name, found[0])
    out = []
    for value in column.tolist():
        key = _path_text(value)
        pos = lookup.get(key)
        if pos is None:
            pos = lookup.get(key.rsplit("/", 1)[-1])
        if pos is None:
            base = key.rsplit("/", 1)[-1]
            if len(names.get(base, ())) > 1:
                same = ", ".join(repr(str(keys[i])) for i in names[base])
                raise ValueError(
                    f"run() of {label} returned file={value!r}, which could be any of {same} "
                    "in its mini-batch (they share the base name); return each item's name "
                    "as given (str(path) of the mini-batch's paths), not its base name"
                )
            raise ValueError(
                f"run() of {label} returned file={value!r}, which is not an item of its "
                "mini-batch; return the file values of the mini-batch it was given"
            )
        out.append(pos)
    return out


def _path_text(value: Any) -> str:
    import os

    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
