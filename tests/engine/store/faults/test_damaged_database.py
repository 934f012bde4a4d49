"""A damaged or unwritable database is reported for what it is, never as a raw traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from headrace.engine import Workspace, component, pipeline
from headrace.engine.errors import WorkspaceError
from headrace.engine.store.database import explain

FILES = Path(__file__).parents[2] / "cli_files"


@component
def square(x: int) -> int:
    return x * x


@pipeline
def squares(x: int = 3):
    return {"y": square(x=x)}


def _cli(*args: str, ws: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "headrace.engine.cli", *args, "--workspace", str(ws)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_damaged_data_pages_give_one_clear_error_from_run_and_gc(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = Workspace(root)
    for x in range(30):
        squares.submit(params={"x": x}, workspace=ws)
    ws.close()
    db = root / "headrace.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    data = bytearray(db.read_bytes())
    for p in range(2, pages):  # every page but the header and the schema
        data[p * page + 100 : p * page + 300] = b"\xa5" * 200
    db.write_bytes(bytes(data))
    for args in (
        ("runs", "list"),
        ("gc", "--keep-last", "1"),
        ("run", str(FILES / "one.py"), "--param", "x=2"),
    ):
        proc = _cli(*args, ws=root)
        assert proc.returncode != 0, (args, proc.stdout)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        assert "is damaged; move it aside" in proc.stderr, (args, proc.stderr)


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (sqlite3.OperationalError("attempt to write a readonly database"), "is read-only here"),
        (sqlite3.OperationalError("database or disk is full"), "the disk is full"),
        (sqlite3.OperationalError("database is locked"), "stayed locked by another process"),
        (sqlite3.DatabaseError("database disk image is malformed"), "is damaged"),
        (sqlite3.OperationalError("Could not decode to UTF-8 column 'id'"), "is damaged"),
        (PermissionError(13, "Permission denied"), "is read-only here"),
    ],
)
def test_each_database_failure_gets_its_own_advice(error, advice) -> None:
    text = str(explain(Path("/w/headrace.db"), error))
    assert advice in text
    assert ("move it aside" in text) == (advice == "is damaged")
    assert isinstance(explain(Path("x"), error), WorkspaceError)
