"""What ``data=`` is: the files of a file input, or the Parquet/CSV sources of a table input.

Table sources are described by their row counts (from Parquet metadata, or one streaming
pass over a CSV); rows are read where a mini-batch runs, a row group at a time.
"""

from __future__ import annotations

import bisect
import fnmatch
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..fingerprint.files import fingerprint_file
from ..store.statcache import is_text
from .batches import Item, item_key


@dataclass(frozen=True)
class TableSource:
    """One file of a table input.

    Attributes:
        path: the file.
        fmt: "parquet" or "csv".
        rows: its row count.
    """

    path: str
    fmt: str
    rows: int


@dataclass(frozen=True)
class TableInput:
    """A table input: files read in order, as one table.

    Attributes:
        sources: the files.
        bytes_per_row: about how many bytes one row takes (to turn "1MB" into rows).
    """

    sources: tuple[TableSource, ...]
    bytes_per_row: float

    @property
    def rows(self) -> int:
        """Rows in the whole table."""
        return sum(s.rows for s in self.sources)


def _matcher(glob: str) -> Any:
    """A match of relative file names for ``glob``; a leading ``**/`` also matches files at
    the top (zero folders), as ``Path.glob`` does."""
    patterns = [glob] + ([glob[3:]] if glob.startswith("**/") else [])
    compiled = [re.compile(fnmatch.translate(p)).match for p in patterns]
    return lambda name: next((m for m in (c(name) for c in compiled) if m), None)


def list_files(data: Any, glob: str | None) -> list[tuple[str, str]]:
    """(name, absolute path) of every file of a file input, in input order.

    A folder gives its files recursively, sorted by relative path (hidden files and folders
    left out, symlinked folders not followed), filtered by ``glob``; a list of paths gives
    those paths in the order given.
    """
    if isinstance(data, (list, tuple)):
        return [(str(p), os.path.abspath(p)) for p in data]
    root = Path(data)
    if root.is_file():
        return [(root.name, str(root.resolve()))]
    match = _matcher(glob) if glob is not None else None
    found = []
    stack = [(os.path.abspath(root), "")]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # unreadable or gone while listing (as os.walk does)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                if not entry.is_symlink():
                    stack.append((entry.path, f"{rel}{entry.name}/"))
                continue
            name = f"{rel}{entry.name}"
            if match is None or match(name) or match(entry.name):
                found.append((name, entry.path))
    found.sort()
    return found


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def file_items(
    files: list[tuple[str, str]], stat_cache: Any = None, folder: str | None = None
) -> list[Item]:
    """The items of a file input, each keyed by its name and content.

    Args:
        files: (name, absolute path) of each file.
        stat_cache: the workspace's stat cache (a file whose stat is unchanged is not read).
        folder: the folder they come from (its stat cache entries are loaded at once).
    """
    if stat_cache is not None and folder is not None:
        stat_cache.prefetch(os.path.abspath(folder))
    items = []
    for name, path in files:
        shown = _as_text(name)
        items.append(Item(shown, path, item_key(shown, fingerprint_file(path, stat_cache))))
    return items


def _as_text(name: str) -> str:
    """A file name as text for the ``file`` column: a name that is not UTF-8 (decoded from
    the disk with surrogate escapes, which Parquet cannot store) shows its odd bytes as
    ``\\xNN``; the entry still gets the real path."""
    return name if is_text(name) else os.fsencode(name).decode("utf-8", "backslashreplace")


def table_input(data: Any, fmt: str, glob: str | None) -> TableInput:
    """Describe a Parquet/CSV file, folder or list of them as one table (reads metadata only)."""
    pattern = glob or f"*.{fmt}"
    if isinstance(data, (list, tuple)):
        paths = [os.path.abspath(p) for p in data]
    elif Path(data).is_file():
        paths = [str(Path(data).resolve())]
    else:
        paths = [p for _, p in list_files(data, pattern)]
    sources, size = [], 0.0
    for path in paths:
        if not is_text(path):  # pyarrow opens files by UTF-8 path only
            raise ParameterError(
                f"data=: the table file {os.fsencode(path)!r} has a name that is not UTF-8 text, "
                "which pyarrow cannot open; rename it (e.g. to "
                f"{os.fsencode(os.path.basename(path)).decode('latin-1')!r}), or "
                "leave it out with glob="
            )
        rows, nbytes = _parquet_meta(path) if fmt == "parquet" else _csv_meta(path)
        sources.append(TableSource(path, fmt, rows))
        if not size and rows:
            size = nbytes / rows
    return TableInput(tuple(sources), size or 1.0)


def _parquet_meta(path: str) -> tuple[int, float]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    nbytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return meta.num_rows, float(nbytes)


def _csv_meta(path: str) -> tuple[int, float]:
    import pyarrow.csv as pcsv

    rows = 0
    with pcsv.open_csv(path) as reader:
        for batch in reader:
            rows += batch.num_rows
    return rows, float(os.path.getsize(path))


def source_slices(
    sources: Sequence[TableSource], start: int, stop: int
) -> list[tuple[int, int, int]]:
    """(source index, first row, one past the last row in that source) for rows ``[start,
    stop)`` of the table the sources make, in order."""
    out, base = [], 0
    for i, src in enumerate(sources):
        lo, hi = max(start - base, 0), min(stop - base, src.rows)
        if hi > lo:
            out.append((i, lo, hi))
        base += src.rows
        if base >= stop:
            break
    return out


def source_digests(sources: Sequence[TableSource], stat_cache: Any = None) -> list[str]:
    """The content fingerprint of each source file (cheap when the stat cache knows it: the
    step's input fingerprint has just hashed them; a file whose stat changed is hashed)."""
    return [fingerprint_file(s.path, stat_cache) for s in sources]


class RowReader:
    """Reads rows ``[start, stop)`` of a table input, a row group at a time (one per process)."""

    def __init__(self, sources: tuple[TableSource, ...]):
        self.sources = sources
        self.offsets = [0]
        for s in sources:
            self.offsets.append(self.offsets[-1] + s.rows)
        self._files: dict[str, Any] = {}
        self._group: tuple[str, int, Any] | None = None

    def read(self, start: int, stop: int) -> Any:
        """The rows as a pyarrow Table."""
        import pyarrow as pa

        parts = []
        i = bisect.bisect_right(self.offsets, start) - 1
        while start < stop and i < len(self.sources):
            src, base = self.sources[i], self.offsets[i]
            lo, hi = start - base, min(stop, base + src.rows) - base
            if hi > lo:
                parts.append(self._slice(src, lo, hi))
            start = base + src.rows
            i += 1
        return pa.concat_tables(parts) if len(parts) != 1 else parts[0]

    def _slice(self, src: TableSource, lo: int, hi: int) -> Any:
        if src.fmt == "csv":
            return _csv_slice(src.path, lo, hi)
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = self._files.get(src.path)
        if pf is None:
            pf = self._files[src.path] = pq.ParquetFile(src.path, memory_map=True)
        meta, parts, base = pf.metadata, [], 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if base + n > lo and base < hi:
                table = self._row_group(src.path, pf, g)
                parts.append(table.slice(max(lo - base, 0), min(hi, base + n) - max(lo, base)))
            base += n
            if base >= hi:
                break
        return pa.concat_tables(parts) if len(parts) != 1 else parts[0]

    def _row_group(self, path: str, pf: Any, g: int) -> Any:
        if self._group is not None and self._group[:2] == (path, g):
            return self._group[2]
        table = pf.read_row_group(g)
        self._group = (path, g, table)
        return table


def _csv_slice(path: str, lo: int, hi: int) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    parts, base = [], 0
    with pcsv.open_csv(path) as reader:
        for batch in reader:
            n = batch.num_rows
            if base + n > lo:
                parts.append(batch.slice(max(lo - base, 0), min(hi, base + n) - max(lo, base)))
            base += n
            if base >= hi:
                break
    return pa.Table.from_batches(parts) if parts else pa.table({})
