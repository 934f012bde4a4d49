"""Power loss: the last transactions are gone and the newest payloads are incomplete on disk.

Nothing is fsynced (WAL with ``synchronous=NORMAL``), so after a power cut the database may
come back as it was a few commits ago, and a payload renamed into place just before may hold
fewer bytes than were written (a zero-length file is what ext4's delayed allocation leaves).
The promise: at worst a re-run, never a wrong result. This test puts a workspace into exactly
that state between real ``headrace run`` processes and checks both halves of the promise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PIPELINE = """
import pandas as pd
from headrace.engine import component, pipeline


@component
def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n), "b": [str(i) * 40 for i in range(n)]})


@component
def total(df: pd.DataFrame) -> int:
    return int(df["a"].sum())


@pipeline(name="power")
def power(n: int = 100):
    return {"total": total(df=make(n=n))}
"""

DB_FILES = ("headrace.db", "headrace.db-wal", "headrace.db-shm")


def _run(tmp: Path, n: int) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "headrace.engine.cli", "run", "pipe.py", "--param", f"n={n}"]
        + ["--workspace", str(tmp / "ws")],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _total(tmp: Path) -> tuple[int, bool]:
    """The newest run's total and whether its ``make`` step was reused."""
    from headrace.engine import Workspace

    ws = Workspace(tmp / "ws")
    try:
        run = ws.runs(pipeline="power")[0]
        return int(run.outputs["total"].load()), bool(run.steps["make"].reused)
    finally:
        ws.close()


def _payloads(ws: Path) -> set[Path]:
    skip = {ws / name for name in DB_FILES}
    return {p for p in ws.rglob("*") if p.is_file() and p not in skip and "logs" not in p.parts}


def _cut_power(ws: Path, snapshot: Path, written_after: set[Path]) -> None:
    """Roll the database back to ``snapshot`` and leave every newer payload incomplete."""
    for name in DB_FILES:
        (ws / name).unlink(missing_ok=True)
        if (snapshot / name).exists():
            shutil.copy2(snapshot / name, ws / name)
    for path in written_after:
        os.chmod(path, 0o644)
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.truncate(size // 3)


def test_power_loss_costs_a_re_run_never_a_wrong_result(tmp_path: Path) -> None:
    (tmp_path / "pipe.py").write_text(PIPELINE)
    ws = tmp_path / "ws"
    _run(tmp_path, 100)
    assert _total(tmp_path) == (4950, False)

    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for name in DB_FILES:
        if (ws / name).exists():
            shutil.copy2(ws / name, snapshot / name)
    before = _payloads(ws)

    _run(tmp_path, 200)
    written = {p for p in _payloads(ws) - before if p.stat().st_size > 0}
    assert written, "the second run wrote no payload file to damage"
    _cut_power(ws, snapshot, written)

    # The database forgot the second run; its payloads are still at their addresses, but
    # incomplete: the re-run must not dedup onto them, and its answer must be right.
    _run(tmp_path, 200)
    assert _total(tmp_path) == (19900, False)
    _run(tmp_path, 200)
    assert _total(tmp_path) == (19900, True)  # the good copy replaced the incomplete one

    # The first run survived the cut whole: it is reused as it was.
    _run(tmp_path, 100)
    assert _total(tmp_path) == (4950, True)


def test_a_committed_payload_cut_short_is_recomputed(tmp_path: Path) -> None:
    """The rename and the commit reached the disk, the payload's data did not."""
    (tmp_path / "pipe.py").write_text(PIPELINE)
    ws = tmp_path / "ws"
    before = _payloads(ws) if ws.exists() else set()
    _run(tmp_path, 100)
    written = {p for p in _payloads(ws) - before if p.suffix == ".parquet"}
    assert written
    for path in written:
        os.chmod(path, 0o644)
        with open(path, "r+b") as f:
            f.truncate(0)
    _run(tmp_path, 100)
    assert _total(tmp_path) == (4950, False)
