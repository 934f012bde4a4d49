"""Build-time checks of ``data=`` given as a constant: it exists, it is not empty, its kind is clear."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .config import Knobs
from .sources import list_files

TABLE_SUFFIXES = (".parquet", ".csv")


def data_problems(where: str, data: Any, knobs: Knobs, format_unknown: bool = False) -> list[str]:
    """What is wrong with a constant ``data=`` (the same checks run again when the step runs).

    Args:
        where: how messages name the step.
        data: a path, a list of paths or a table.
        knobs: the step's knobs (``glob``, ``input_format``, ``mini_batch_size``).
        format_unknown: ``input_format`` is bound to a pipeline parameter.
    """
    if format_unknown:
        return []
    fmt = knobs.input_format
    at = f"{where}, argument data"
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            return [f"{at}={str(data)!r}: it does not exist; create it or pass another path"]
        paths = [p for _, p in list_files(path, knobs.glob if fmt in (None, "files") else None)]
        if path.is_dir() and fmt in ("parquet", "csv"):
            paths = [p for _, p in list_files(path, knobs.glob or f"*.{fmt}")]
    elif isinstance(data, (list, tuple)):
        paths = [str(p) for p in data]
    else:
        return []  # a table held in memory
    problems = []
    twice = _repeated(paths) if isinstance(data, (list, tuple)) else None
    if twice is not None:
        problems.append(
            f"{at}: it lists {twice!r} more than once; give each file once (each item "
            "has one row in the results)"
        )
    if not paths:
        what = f"no *.{fmt} files" if fmt in ("parquet", "csv") else "no files"
        glob = f" matching glob={knobs.glob!r}" if knobs.glob else ""
        problems.append(
            f"{at}={str(data)!r}: the folder has {what}{glob}, so there is nothing to score; "
            "put files in it, or pass another folder or glob"
        )
    elif fmt is None and (tables := _tables(paths)):
        kind = "parquet" if tables[0].lower().endswith(".parquet") else "csv"
        problems.append(
            f"{at}={str(data)!r}: it holds {kind} files but input_format is not given; pass "
            f"input_format={kind!r} to split their rows into mini-batches, or "
            "input_format='files' to score each file as one item"
        )
    size = knobs.mini_batch_size
    file_input = fmt in (None, "files")
    if file_input and isinstance(size, str) and not size.strip().isdigit():
        problems.append(
            f"{where}, argument mini_batch_size={size!r}: a file input is split by a number "
            "of files; give a whole number such as 10 (sizes like '1MB' are for tables)"
        )
    return problems


def _tables(paths: list[str]) -> list[str]:
    """The Parquet/CSV files when they are all the data files, or []: the markers and
    checksums that Spark, Dask and Azure write beside them (``_SUCCESS``, ``.part.crc``) are
    not data."""
    data = [p for p in paths if not os.path.basename(p).startswith(("_", "."))]
    data = [p for p in data if not p.lower().endswith(".crc")]
    ok = bool(data) and all(p.lower().endswith(TABLE_SUFFIXES) for p in data)
    return data if ok else []


def _repeated(paths: list[str]) -> str | None:
    """The first path a list names a second time (as the same absolute path), or None."""
    seen: set[str] = set()
    for path in paths:
        absolute = os.path.abspath(path)
        if absolute in seen:
            return path
        seen.add(absolute)
    return None
