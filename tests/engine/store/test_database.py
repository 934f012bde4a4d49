"""The workspace database: WAL, write transactions, the batch writer, the schema version check."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from headrace.engine.errors import WorkspaceError
from headrace.engine.store.database import SCHEMA_VERSION, Database
from headrace.engine.store.processes import pid_alive

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER)"


def test_a_new_database_is_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", SCHEMA)
    assert db.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert db.query("SELECT value FROM meta WHERE key='schema_version'") == [
        {"value": str(SCHEMA_VERSION)}
    ]
    db.close()


def test_a_database_from_a_newer_headrace_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    Database(path, SCHEMA).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    with pytest.raises(WorkspaceError, match=r"written by a newer headrace: upgrade headrace"):
        Database(path, SCHEMA)


def test_a_database_with_a_foreign_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    Database(path, SCHEMA).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='banana' WHERE key='schema_version'")
    with pytest.raises(WorkspaceError, match="not a database this headrace wrote"):
        Database(path, SCHEMA)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WorkspaceError, match="is damaged; move it aside"):
        Database(path, SCHEMA)


def test_a_failed_transaction_is_rolled_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", SCHEMA)
    with pytest.raises(RuntimeError), db.transaction() as c:
        c.execute("INSERT INTO t VALUES ('a', 1)")
        raise RuntimeError("boom")
    assert db.query("SELECT * FROM t") == []
    db.close()


def _insert(c: sqlite3.Connection, k: str, v: int) -> None:
    c.execute("INSERT INTO t VALUES (?, ?)", (k, v))


def test_the_batch_writer_commits_everything_and_reports_a_failed_write(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", SCHEMA)
    writer = db.writer()
    for i in range(500):
        writer.put(_insert, f"k{i}", i)
    writer.flush()
    assert db.query("SELECT COUNT(*) AS n FROM t")[0]["n"] == 500
    writer.put(_insert, "before", 0)
    writer.put(_half_then_fail, "half")  # undone alone, though it wrote a row first
    writer.put(_insert, "k1", 1)  # a duplicate key: this write alone fails
    writer.put(_insert, "later", 2)
    with pytest.raises(ValueError, match="half"):  # the first failure is the one reported
        writer.close()
    assert db.query("SELECT v FROM t WHERE k IN ('before', 'later') ORDER BY v") == [
        {"v": 0},
        {"v": 2},
    ]
    assert db.query("SELECT v FROM t WHERE k = 'half'") == []
    assert db.query("SELECT v FROM t WHERE k = 'k1'") == [{"v": 1}]
    db.close()


def _half_then_fail(c: sqlite3.Connection, k: str) -> None:
    _insert(c, k, -1)
    raise ValueError(f"{k} written, then failed")


def test_a_batch_the_lock_kept_out_is_reported_once_not_replayed(tmp_path: Path) -> None:
    """A lock held past the busy timeout blames no op: the batch is not replayed op by op
    (which would wait the timeout out again), and the error reaches flush()."""
    db = Database(tmp_path / "x.db", SCHEMA)
    db._conn.execute("PRAGMA busy_timeout=300")
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writes, and takes its time
    writer = db.writer()
    writer.put(_insert, "a", 1)
    writer.put(_insert, "b", 2)
    started = time.monotonic()
    with pytest.raises(WorkspaceError, match="locked"):
        writer.flush()
    assert time.monotonic() - started < 2.5  # one busy wait (0.3 s), not one per op
    other.execute("ROLLBACK")
    other.close()
    writer.put(_insert, "c", 3)
    with pytest.raises(WorkspaceError):  # the first error stays reported
        writer.close()
    assert db.query("SELECT k FROM t") == [{"k": "c"}]  # the later batch went in
    db.close()


def test_concurrent_writers_on_one_file_wait_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    dbs = [Database(path, SCHEMA) for _ in range(4)]
    errors: list[BaseException] = []

    def write(db: Database, n: int) -> None:
        try:
            for i in range(50):
                with db.transaction() as c:
                    _insert(c, f"{n}-{i}", i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(db, n)) for n, db in enumerate(dbs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and dbs[0].query("SELECT COUNT(*) AS n FROM t")[0]["n"] == 200
    for db in dbs:
        db.close()


def test_pid_alive() -> None:
    import os

    assert pid_alive(os.getpid())
    assert not pid_alive(2**22 + 12345)


def test_a_thread_can_release_its_read_connection(tmp_path) -> None:
    """A thread that ends before the database (a Prefect mirror's, one per run) closes its
    reader instead of leaving one open per run for the life of the process."""
    import threading

    from headrace.engine import Workspace

    with Workspace(tmp_path / "ws") as ws:
        before = len(ws.history._reader_conns)

        def read() -> None:
            ws.history.query("SELECT 1 AS one")
            ws.history.release_reader()

        threads = [threading.Thread(target=read) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(ws.history._reader_conns) == before
        assert ws.history.query("SELECT 1 AS one") == [{"one": 1}]  # this thread's still works
