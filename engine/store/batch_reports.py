"""The per-mini-batch report of a parallel-run step, kept beside the artifacts of its run.

``<store>/parallel/reports/<run id>/<step>.parquet``: one row per mini-batch (id, items,
items_failed, status, attempts, duration, worker, error, reused). It is written when the
step ends, whether it completed or failed, so ``headrace runs batches`` explains failures.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from typing import Any

from .artifacts import ArtifactStore

COLUMNS = (
    "id",
    "items",
    "items_failed",
    "status",
    "attempts",
    "duration",
    "worker",
    "error",
    "reused",
)


def report_path(store: ArtifactStore, run_id: str, step: str) -> str:
    """Where the report of ``step`` in ``run_id`` is kept."""
    return f"{store.root}/parallel/reports/{run_id}/{urllib.parse.quote(step, safe='')}.parquet"


def write_report(store: ArtifactStore, run_id: str, step: str, rows: list[dict[str, Any]]) -> None:
    """Save the report (atomically: a reader sees the old one or the new one)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    dest = report_path(store, run_id, step)
    stage = store.new_staging_dir()
    try:
        tmp = stage / "report.parquet"
        frame.to_parquet(tmp, index=False)
        if store.is_local:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            part = f"{dest}.{os.getpid()}.tmp"
            shutil.move(str(tmp), part)
            os.replace(part, dest)
        else:
            store.fs.put_file(str(tmp), dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def read_report(store: ArtifactStore, run_id: str, step: str) -> list[dict[str, Any]]:
    """The report's rows in mini-batch order; [] when the step kept none (not a parallel step)."""
    import pyarrow.parquet as pq

    path = report_path(store, run_id, step)
    try:
        if store.is_local:
            table = pq.read_table(path)
        else:
            with store.fs.open(path, "rb") as f:
                table = pq.read_table(f)
    except (FileNotFoundError, OSError):
        return []
    return [dict(r) for r in table.to_pylist()]
