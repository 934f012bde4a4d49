"""The step's ``results`` table, put together from committed and new mini-batch results.

File inputs: results are matched to the input's items by item key (content), so items that
moved, appeared or disappeared are handled alike; the rows come from the ledger's snapshot,
from results committed after it, and from this run's mini-batches. Table inputs: batches in
row order, written into preallocated columns, so the step holds about one copy of the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .batches import Batch
from .ledger import BATCH, Committed, Ledger
from .output import ITEM, POS

GLOB = "__glob"


def file_results(
    batches: list[Batch],
    item_keys: list[str],
    names: list[str],
    new_rows: dict[int, Any],
    committed_keys: dict[int, str],
    committed: Committed,
) -> tuple[Any, Any]:
    """(the results table, the ledger snapshot to write) for a file input.

    Args:
        batches: the plan.
        item_keys: every input item's key, by position.
        names: every input item's ``file`` value, by position.
        new_rows: mini-batch id → this run's result rows (``__pos``, ``__item``, columns).
        committed_keys: mini-batch id → key, for this run's mini-batches that committed.
        committed: what the ledger held before this run.
    """
    import numpy as np
    import pandas as pd

    new = [(b.id, new_rows[b.id]) for b in batches if new_rows.get(b.id) is not None]
    frames = [] if committed.rows is None else [committed.rows]
    if new:  # this run's rows in one piece, each keyed to the mini-batch that committed it
        fresh = pd.concat([rows for _, rows in new], ignore_index=True).drop(columns=[POS])
        keys = [committed_keys.get(bid, "") for bid, _ in new]
        fresh[BATCH] = np.repeat(np.array(keys, dtype=object), [len(r) for _, r in new])
        frames.append(fresh)
    if not frames:
        return pd.DataFrame({"file": pd.Series([], dtype=object)}), None
    every = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    every = every.drop_duplicates(ITEM, keep="last")  # this run's results win
    where: dict[str, int] = {}
    for pos, key in enumerate(item_keys):
        where.setdefault(key, pos)
    glob = every[ITEM].map(where)
    every = every[glob.notna()].assign(**{GLOB: glob[glob.notna()].astype("int64")})
    every = every.sort_values(GLOB, kind="stable").reset_index(drop=True)
    snapshot = every[every[BATCH] != ""].drop(columns=[GLOB])
    table = every.drop(columns=[ITEM, BATCH])
    positions = table.pop(GLOB).to_numpy()
    table.insert(0, "file", pd.array([names[i] for i in positions], dtype=object))
    return table, snapshot


def table_results(
    batches: list[Batch], new_rows: dict[int, Any], keys: dict[int, str], ledger: Ledger
) -> Any:
    """The results table of a table input: ``row`` first, then run()'s columns, in order."""
    import numpy as np
    import pandas as pd

    total = sum(b.size for b in batches)
    columns: dict[str, Any] | None = None
    rows_at = np.empty(total, dtype="int64")
    filled = 0
    parts = _parts(batches, new_rows, keys, ledger)
    for b, part in parts:
        n = len(part)
        if columns is None:
            columns = {c: _empty(part[c], total) for c in part.columns if c != POS}
        if (
            set(columns) != set(part.columns) - {POS}
            or not _fits(columns, part)
            or not _numpy_columns(part)
        ):  # pandas' own dtypes (category, Int64, strings) or differing columns: pandas joins
            head = pd.DataFrame(
                {"row": rows_at[:filled], **{c: a[:filled] for c, a in columns.items()}}
            )
            rest = [_numbered(b2, p2) for b2, p2 in [(b, part), *parts]]
            joined = [head, *rest] if filled else rest  # an empty head would widen the dtypes
            table = pd.concat(joined, ignore_index=True)  # columns differ: pandas aligns
            return table.sort_values("row", kind="stable").reset_index(drop=True)
        rows_at[filled : filled + n] = part[POS].to_numpy() + b.start
        for c, arr in columns.items():
            arr[filled : filled + n] = part[c].to_numpy()
        filled += n
    if columns is None:
        return pd.DataFrame({"row": pd.Series([], dtype="int64")})
    data = {"row": rows_at[:filled], **{c: a[:filled] for c, a in columns.items()}}
    table = pd.DataFrame(data, copy=False)
    if not table["row"].is_monotonic_increasing:
        table = table.sort_values("row", kind="stable").reset_index(drop=True)
    return table


def _numbered(b: Batch, rows: Any) -> Any:
    numbered = rows.assign(**{POS: rows[POS].to_numpy() + b.start}).rename(columns={POS: "row"})
    return numbered[["row", *[c for c in numbered.columns if c != "row"]]]


def _parts(
    batches: list[Batch], new_rows: dict[int, Any], keys: dict[int, str], ledger: Ledger
) -> Iterator[tuple[Batch, Any]]:
    """Each mini-batch's rows in order (this run's are released as they are used)."""
    for b in batches:
        rows = new_rows.pop(b.id, None)
        if rows is None and b.id in keys:
            rows = ledger.read(keys[b.id])
        if rows is not None and len(rows):
            yield b, rows


def _numpy_columns(part: Any) -> bool:
    """Every column of ``part`` has a numpy dtype (so it can be copied into a numpy array)."""
    import numpy as np

    return all(isinstance(part[c].dtype, np.dtype) for c in part.columns if c != POS)


def _empty(column: Any, total: int) -> Any:
    import numpy as np

    dtype = column.to_numpy().dtype
    return np.empty(total, dtype=dtype)


def _fits(columns: dict[str, Any], part: Any) -> bool:
    import numpy as np

    return all(
        np.can_cast(part[c].to_numpy().dtype, arr.dtype, casting="same_kind")
        for c, arr in columns.items()
    )
