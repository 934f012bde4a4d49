"""Table mini-batches found committed from their files' fingerprints, and the stored result rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from headrace.engine import Workspace
from headrace.engine.parallel.batches import rows_locator
from headrace.engine.parallel.ledger import Ledger
from headrace.engine.parallel.output import POS
from headrace.engine.parallel.sources import TableSource, source_slices
from tests.engine.parallel.test_table import _calls, _table, double_parquet

D1, D2 = "1" * 32, "2" * 32  # content fingerprints of two files
C1, C2 = "a" * 32, "b" * 32  # two step contexts
OLD = 1_600_000_000  # an mtime well in the past: the stat cache trusts an unchanged stat


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path)
    os.utime(path, (OLD, OLD))


def _reused_without_worker(run: object) -> list[int]:
    batches = run.steps["double"].batches  # type: ignore[attr-defined]
    return [b["id"] for b in batches if b["reused"] and not b["worker"]]


def test_committed_table_batches_are_found_from_the_files_without_reading_rows(
    ws: Workspace, tmp_path: Path
) -> None:
    folder, counter = tmp_path / "table", tmp_path / "counter"
    folder.mkdir()
    table = _table(1000)
    _write(table.iloc[:600], folder / "part-0.parquet")
    _write(table.iloc[600:], folder / "part-1.parquet")
    params = {"table": str(folder), "counter": str(counter), "batch_size": 300}
    double_parquet.submit(params=params, workspace=ws).raise_for_status()
    extra = _table(1250).iloc[1000:]
    _write(extra, folder / "part-2.parquet")
    for p in counter.glob("*"):
        p.unlink()
    run = double_parquet.submit(params=params, workspace=ws).raise_for_status()
    assert _calls(counter) == ["1200-50", "900-300"]
    assert _reused_without_worker(run) == [0, 1, 2]  # no worker read their rows
    out = run.outputs["results"].load()
    assert out["row"].tolist() == list(range(1250))
    assert out["double"].tolist() == (pd.concat([table, extra])["a"] * 2).tolist()


def test_a_file_rewritten_with_the_same_size_and_mtime_is_scored_again(
    ws: Workspace, tmp_path: Path
) -> None:
    folder, counter = tmp_path / "table", tmp_path / "counter"
    folder.mkdir()
    path = folder / "part-0.parquet"
    _write(_table(200), path)
    params = {"table": str(folder), "counter": str(counter), "batch_size": 100}
    double_parquet.submit(params=params, workspace=ws).raise_for_status()
    before = os.stat(path)
    changed = _table(200) + 1.0  # other values, same shape: the same file size
    _write(changed, path)
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    for p in counter.glob("*"):
        p.unlink()
    run = double_parquet.submit(params=params, workspace=ws).raise_for_status()
    assert _calls(counter) == ["0-100", "100-100"]
    assert _reused_without_worker(run) == []
    out = run.outputs["results"].load()
    assert out["double"].tolist() == (changed["a"] * 2).tolist()


def test_a_locator_names_the_files_content_and_the_rows_taken_from_each() -> None:
    sources = (TableSource("a", "parquet", 600), TableSource("b", "parquet", 400))
    assert source_slices(sources, 0, 300) == [(0, 0, 300)]
    assert source_slices(sources, 500, 900) == [(0, 500, 600), (1, 0, 300)]
    assert source_slices(sources, 900, 1200) == [(1, 300, 400)]
    one = rows_locator(C1, [("parquet", D1, 0, 300)])
    assert one == rows_locator(C1, [("parquet", D1, 0, 300)])
    others = [
        rows_locator(C1, [("parquet", D2, 0, 300)]),  # other content
        rows_locator(C1, [("parquet", D1, 1, 300)]),  # other rows
        rows_locator(C1, [("csv", D1, 0, 300)]),  # other format
        rows_locator(C2, [("parquet", D1, 0, 300)]),  # other entry or side inputs
    ]
    assert one not in others and len(set(others)) == len(others)


def test_stored_rows_read_back_with_their_positions(ws: Workspace) -> None:
    ledger = Ledger(ws.store, "ctx")
    in_order = pd.DataFrame({POS: np.arange(4), "y": [1, 2, 3, 4]})
    shuffled = pd.DataFrame({POS: np.array([2, 0, 1]), "y": [5, 6, 7]})
    positions_only = pd.DataFrame({POS: np.arange(3)})
    for key, rows in (("k1", in_order), ("k2", shuffled), ("k3", positions_only)):
        ledger.commit(key, rows)
        pd.testing.assert_frame_equal(ledger.read(key), rows, check_dtype=False)
    ledger.remember("loc", "k1")
    ledger.remember("gone", "k9")  # its result is not committed
    assert ledger.recall(["loc", "gone", "unknown"]) == {"loc": "k1"}
