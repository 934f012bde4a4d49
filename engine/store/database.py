"""The workspace database: SQLite file, pragmas, transactions, schema-version check."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WorkspaceError
from .db_errors import explain, explainable

if TYPE_CHECKING:
    from .batch_writer import BatchWriter

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
        self.read_only = _read_only(self.path)
        if self.read_only:  # a read-only mount or folder: reads work, writes say why
            try:
                self._conn = self._connect()
                found = self._conn.execute(
                    "SELECT value FROM meta WHERE key='schema_version'"
                ).fetchone()
            except sqlite3.DatabaseError as exc:  # not a headrace database, or damaged
                raise explain(self.path, _not_headrace(exc)) from exc
            check_schema_version(self.path, found[0] if found else "missing")
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout=30000")
            _use_wal(self._conn)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            with self.transaction() as c:
                c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                found = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if found is None:
                    c.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                for statement in statements(schema):
                    c.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise explain(self.path, exc) from exc
        if found is not None:
            check_schema_version(self.path, found[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error."""
        self.require_writable()
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise explain(self.path, exc) from exc
            try:
                yield self._conn
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and explainable(exc):
                    raise explain(self.path, exc) from exc
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise explain(self.path, exc) from exc

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query and return rows addressable by column name.

        Reads use a connection of their own per thread, so they never wait for the
        background writer's transaction (WAL lets readers and one writer overlap).
        """
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = self._connect()
            self._readers.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        try:
            cur = conn.execute(sql, args)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        except sqlite3.Error as exc:
            if explainable(exc):
                raise explain(self.path, exc) from exc
            raise

    def release_reader(self) -> None:
        """Close the calling thread's read connection (a thread that ends before the process
        does: otherwise its connection stays open as long as the database)."""
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            return
        self._readers.conn = None
        with self._lock, contextlib.suppress(ValueError):
            self._reader_conns.remove(conn)
        conn.close()

    def require_writable(self) -> None:
        """Refuse, with what to do, to change a read-only workspace.

        Raises:
            WorkspaceError: the database is read-only here.
        """
        if self.read_only:
            raise WorkspaceError(
                f"the workspace database {self.path} is read-only here (a read-only folder "
                "or file system), so nothing can be recorded in it; commands that only read "
                "(runs list, runs show, schedule list, gc --dry-run) work. Run in a "
                "workspace you can write (--workspace, $HEADRACE_HOME) or make this one "
                "writable. Nothing was changed"
            )

    def _connect(self) -> sqlite3.Connection:
        """A connection (read-only, and without locking when even the WAL index cannot be
        made, on a read-only workspace)."""
        try:
            if not self.read_only:
                conn = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
            else:
                conn = _connect_read_only(self.path)
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from exc
        return conn

    def writer(self) -> BatchWriter:
        """A background writer that groups many writes into each transaction."""
        from .batch_writer import BatchWriter

        return BatchWriter(self)

    def close(self) -> None:
        """Close the connections."""
        with self._lock:
            self._conn.close()
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._readers = threading.local()


def _read_only(path: Path) -> bool:
    """Whether ``path`` is an existing database this process cannot write (or whose folder it
    cannot write: SQLite needs it for the journal)."""
    return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _connect_read_only(path: Path) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:  # WAL without its index, which cannot be made here
        conn.close()
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        warnings.warn(
            f"the read-only workspace database {path} has writes still in {wal.name} that "
            "cannot be read without write access: the newest runs may be missing from what "
            "is shown. Open the workspace where it is writable to see them.",
            stacklevel=2,
        )
    return sqlite3.connect(
        uri.replace("mode=ro", "immutable=1"),
        uri=True,
        timeout=30,
        isolation_level=None,
        check_same_thread=False,
    )


def _not_headrace(exc: sqlite3.DatabaseError) -> sqlite3.DatabaseError:
    """A missing table means the file is no headrace database: said as damage, not as SQL."""
    if "no such table" in str(exc):
        return sqlite3.DatabaseError(f"file is not a headrace database ({exc})")
    return exc


def _use_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """Switch to WAL, waiting while other processes open the same new file.

    SQLite answers "database is locked" at once, without its busy handler, when another
    connection holds the file while the journal mode changes (processes creating one
    workspace together): retry for up to ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


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
