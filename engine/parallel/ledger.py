"""The ledger of committed mini-batch results, in the workspace's artifact store.

``<store>/parallel/<context>/<batch key>.parquet`` holds one mini-batch's result rows; it is
written to a temporary name and renamed into place (an object store puts it in one request),
so a reader sees all of a result or none of it, and a run killed at any moment leaves only
complete results behind. A ``summary_only`` mini-batch commits the files it wrote first
(``<batch key>.out/``), then its result file, which is the commit. ``index.parquet`` maps
every file item's result and the mini-batch that committed it, written at the end of each
run (one read instead of one per mini-batch); results committed after it (by a run that was
killed) are found by listing the folder. ``memo/<locator>`` holds the key of a table
mini-batch committed from files, under where its rows come from (the files' content
fingerprints and row ranges), so a re-run finds it without reading and hashing the rows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from dataclasses import dataclass
from typing import Any

from ..store.artifacts import ArtifactStore
from .output import ITEM, POS

INDEX = "index.parquet"
MEMO = "memo"
"""The folder mapping a table mini-batch's rows locator to its committed key."""
BATCH = "__batch"
"""The column of the snapshot naming the mini-batch that committed each item's result."""


class Ledger:
    """The committed results of one step context (entry, side inputs, result-changing knobs).

    Args:
        store: the workspace's artifact store.
        context: the context key.
    """

    def __init__(self, store: ArtifactStore, context: str):
        self.store = store
        self.context = context
        self.folder = f"{store.root}/parallel/{context}"
        self.local = store.is_local
        if self.local:
            os.makedirs(self.folder, exist_ok=True)

    def path(self, key: str, suffix: str = ".parquet") -> str:
        """Where the mini-batch ``key``'s result is (or would be)."""
        return f"{self.folder}/{key}{suffix}"

    def has(self, key: str) -> bool:
        """Whether a result for ``key`` is committed."""
        if self.local:
            return os.path.exists(self.path(key))
        return bool(self.store.fs.exists(self.path(key)))

    def read(self, key: str) -> Any:
        """The committed result rows of ``key`` (a DataFrame with ``__pos`` first)."""
        import pyarrow.parquet as pq

        if self.local:  # ParquetFile: pq.read_table would import pyarrow.dataset (slow)
            rows = pq.ParquetFile(self.path(key)).read().to_pandas()
        else:
            with self.store.fs.open(self.path(key), "rb") as f:
                rows = pq.ParquetFile(f).read().to_pandas()
        if POS not in rows.columns:  # stored without it: every item in order (see commit)
            import numpy as np

            rows.insert(0, POS, np.arange(len(rows), dtype="int64"))
        return rows

    def commit(self, key: str, rows: Any, out_dir: str | None = None) -> None:
        """Commit a mini-batch's result rows (and, for summary_only, the folder it wrote).

        ``__pos`` is left out when it is 0, 1, ..., n-1 and other columns remain (a result
        for every item, in order: the usual case); :meth:`read` puts it back.
        """
        if out_dir is not None:
            self._put_folder(out_dir, self.path(key, ".out"))
        if len(rows.columns) > 1 and _in_order(rows[POS].to_numpy()):
            rows = rows.drop(columns=[POS])
        if self.local:  # written beside its final name, then renamed: all of it or nothing
            tmp = f"{self.folder}/.{os.getpid()}-{uuid.uuid4().hex}.tmp"
            try:
                _write_parquet(rows, tmp)
                os.replace(tmp, self.path(key))
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
            return
        stage = self.store.new_staging_dir()
        try:
            tmp_path = stage / "result.parquet"
            _write_parquet(rows, str(tmp_path))
            self._put_file(str(tmp_path), self.path(key))
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _put_file(self, src: str, dest: str) -> None:
        if not self.local:
            self.store.fs.put_file(src, dest)
            return
        tmp = f"{self.folder}/.{os.getpid()}-{uuid.uuid4().hex}.tmp"
        shutil.move(src, tmp)
        os.replace(tmp, dest)  # atomic: a reader sees the whole result or none

    def _put_folder(self, src: str, dest: str) -> None:
        if not self.local:
            self.store.fs.put(src, dest, recursive=True)
            return
        if os.path.exists(dest):  # committed by an attempt that died before its result file
            shutil.rmtree(dest, ignore_errors=True)
        tmp = f"{self.folder}/.{os.getpid()}-{uuid.uuid4().hex}.tmp"
        shutil.copytree(src, tmp)
        with contextlib.suppress(OSError):  # another worker committed the same files
            os.rename(tmp, dest)
        shutil.rmtree(tmp, ignore_errors=True)

    def out_dir(self, key: str) -> str:
        """The folder a summary_only mini-batch wrote (local path or URL)."""
        return self.path(key, ".out")

    def remember(self, locator: str, key: str) -> None:
        """Record that the table mini-batch at ``locator`` (see ``rows_locator``) has the
        committed result ``key`` (written after the result, atomically)."""
        path = f"{self.folder}/{MEMO}/{locator}"
        if not self.local:
            with self.store.fs.open(path, "wb") as f:
                f.write(key.encode())
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{self.folder}/.{os.getpid()}-{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "w") as f:
                f.write(key)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)

    def recall(self, locators: list[str]) -> dict[str, str]:
        """locator → committed result key, for the locators remembered whose result is
        still committed."""
        folder = f"{self.folder}/{MEMO}"
        try:
            if self.local:
                known = set(os.listdir(folder))
            else:
                known = {p.rsplit("/", 1)[-1] for p in self.store.fs.ls(folder, detail=False)}
        except (FileNotFoundError, OSError):
            return {}
        committed = self.keys()
        found = {}
        for locator in locators:
            if locator not in known:
                continue
            try:
                key = self._read_text(f"{folder}/{locator}")
            except (FileNotFoundError, OSError, UnicodeDecodeError):
                continue
            if key in committed:
                found[locator] = key
        return found

    def _read_text(self, path: str) -> str:
        if self.local:
            with open(path) as f:
                return f.read().strip()
        with self.store.fs.open(path, "rb") as f:
            return bytes(f.read()).decode().strip()

    def keys(self) -> set[str]:
        """Keys of every committed result."""
        if self.local:
            names = os.listdir(self.folder)
        else:
            try:
                names = [p.rsplit("/", 1)[-1] for p in self.store.fs.ls(self.folder, detail=False)]
            except FileNotFoundError:
                names = []
        return {n[: -len(".parquet")] for n in names if n.endswith(".parquet") and n != INDEX}

    def committed_files(self) -> Committed:
        """Every committed file item result: the last snapshot, then results committed after it.

        Results stay valid whatever happens to the files they came from (they are keyed by
        content), so the snapshot is trusted as it is; an unreadable result file is left out
        (its items are scored again).
        """
        import pandas as pd

        frames = []
        snapshot = self._read_snapshot()
        if snapshot is not None:
            frames.append(snapshot)
        indexed = set(snapshot[BATCH].unique()) if snapshot is not None else set()
        for key in sorted(self.keys() - indexed):
            try:
                rows = self.read(key)
            except (FileNotFoundError, OSError, ValueError):
                continue
            if ITEM in rows.columns:
                frames.append(rows.drop(columns=[POS], errors="ignore").assign(**{BATCH: key}))
        if not frames:
            return Committed({}, None)
        unindexed = len(frames) > (snapshot is not None)
        rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        rows = rows.drop_duplicates(ITEM, keep="last")
        return Committed(dict(zip(rows[ITEM], rows[BATCH], strict=True)), rows, unindexed)

    def _read_snapshot(self) -> Any:
        import pyarrow.parquet as pq

        path = f"{self.folder}/{INDEX}"
        try:
            if self.local:
                table = pq.ParquetFile(path).read()
            else:
                with self.store.fs.open(path, "rb") as f:
                    table = pq.ParquetFile(f).read()
        except (FileNotFoundError, OSError):
            return None
        frame = table.to_pandas()
        return frame if {ITEM, BATCH} <= set(frame.columns) else None

    def write_snapshot(self, rows: Any) -> None:
        """Save every file item's result of this run (with ``__item`` and ``__batch``) in one
        file, so the next run reads one file instead of one per mini-batch."""
        stage = self.store.new_staging_dir()
        try:
            tmp = stage / INDEX
            rows.to_parquet(tmp, engine="pyarrow", index=False)
            self._put_file(str(tmp), f"{self.folder}/{INDEX}")
        finally:
            shutil.rmtree(stage, ignore_errors=True)


def _write_parquet(rows: Any, path: str) -> None:
    """``rows.to_parquet(path, index=False)`` without pandas' path handling (a few ms per
    call, which counts for mini-batches of a few small files)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path)


def _in_order(positions: Any) -> bool:
    import numpy as np

    return bool(len(positions) and (positions == np.arange(len(positions))).all())


@dataclass(frozen=True)
class Committed:
    """The committed results of file items.

    Attributes:
        index: item key → key of the mini-batch that holds its result.
        rows: the results with ``__item`` and ``__batch`` columns (None when there are none).
        unindexed: some came from results committed after the snapshot.
    """

    index: dict[str, str]
    rows: Any
    unindexed: bool = False
