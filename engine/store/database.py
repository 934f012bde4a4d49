"""The workspace database: SQLite file, pragmas, transactions, schema-version check, BatchWriter."""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import WorkspaceError

SCHEMA_VERSION = 1
"""The layout of every table this version of headrace reads and writes."""


class Database:
    """A SQLite file shared by threads and processes.

    Every write is one ``BEGIN IMMEDIATE`` transaction, and a 30 s busy timeout makes
    concurrent writers wait their turn instead of failing with "database is locked". Opening
    creates the schema when missing and refuses a file written by a newer headrace.

    Args:
        path: the SQLite file (created with its schema when missing).
        schema: ``CREATE ... IF NOT EXISTS`` statements separated by ``;``.
    """

    def __init__(self, path: Path, schema: str):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            with self.transaction() as c:
                c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                found = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if found is None:
                    c.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                for statement in statements(schema):
                    c.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(
                f"the workspace database {self.path} cannot be opened ({exc}); if it is damaged, "
                "move it aside and run again to start a new history"
            ) from exc
        if found is not None:
            check_schema_version(self.path, found[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query and return rows addressable by column name.

        Reads use a connection of their own per thread, so they never wait for the
        background writer's transaction (WAL lets readers and one writer overlap).
        """
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=30000")
            self._readers.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        cur = conn.execute(sql, args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def writer(self) -> BatchWriter:
        """A background writer that groups many writes into each transaction."""
        return BatchWriter(self)

    def close(self) -> None:
        """Close the connections."""
        with self._lock:
            self._conn.close()
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._readers = threading.local()


def check_schema_version(path: Path, recorded: str) -> None:
    """Refuse a database whose recorded schema version this headrace cannot read.

    Raises:
        WorkspaceError: naming both versions and what to do.
    """
    try:
        version = int(recorded)
    except ValueError:
        version = -1
    if version == SCHEMA_VERSION:
        return
    newer = version > SCHEMA_VERSION
    raise WorkspaceError(
        f"the workspace database {path} has schema version {recorded!r}, and this headrace "
        f"reads version {SCHEMA_VERSION}; "
        + (
            "it was written by a newer headrace: upgrade headrace (pip install -U headrace)"
            if newer
            else "it is not a database this headrace wrote: move it aside to start a new history"
        )
        + ", or use another workspace (--workspace)"
    )


def statements(schema: str) -> list[str]:
    """The statements of a ``;``-separated schema script."""
    return [s.strip() for s in schema.split(";") if s.strip()]


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (also when another user owns it).

    The one liveness check of headrace (run records, the scheduler, the Prefect server). A
    zombie (ended, not yet reaped by its parent) is not alive, where ``/proc`` shows it.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS): signal 0 reached it
        return True


class BatchWriter:
    """Applies history writes on a background thread, as many per transaction as are waiting.

    The runner's loop then never waits for SQLite: a 1,000-step chain costs a handful of
    commits instead of two per step. :meth:`flush` waits until everything queued is committed
    and re-raises a failed write.

    Args:
        history: the database to write to.
    """

    def __init__(self, history: Database):
        self.history = history
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="headrace-history", daemon=True)
        self._thread.start()

    def put(self, op: Callable[..., None], *args: Any) -> None:
        """Queue ``op(connection, *args)``."""
        if self._closed:
            raise RuntimeError("history writer is closed")
        self._queue.put((op, args))

    def _loop(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            ops = [i for i in items if isinstance(i, tuple)]
            try:
                if ops:
                    with self.history.transaction() as c:
                        for op, args in ops:
                            self._apply(c, op, args)
            except BaseException as exc:  # reported by flush()
                self._error = exc
            for i in items:
                if isinstance(i, threading.Event):
                    i.set()
            if any(i is None for i in items):
                return

    def _apply(self, c: sqlite3.Connection, op: Callable[..., None], args: tuple[Any, ...]) -> None:
        """Apply one write in a savepoint: a failing write is undone alone and reported."""
        c.execute("SAVEPOINT op")
        try:
            op(c, *args)
        except Exception as exc:
            c.execute("ROLLBACK TO op")
            self._error = self._error or exc
        c.execute("RELEASE op")

    def flush(self) -> None:
        """Wait until every queued write is committed; re-raise a write that failed."""
        if not self._closed:
            done = threading.Event()
            self._queue.put(done)
            done.wait()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Flush and stop the thread (a second call only re-checks for errors)."""
        if not self._closed:
            self._queue.put(None)
            self._thread.join()
            self._closed = True
        self.flush()
