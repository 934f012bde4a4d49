"""StatCache: file digests remembered by (size, mtime, inode, ctime) in the workspace database."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import NamedTuple

__all__ = ["RACY_MARGIN_NS", "StatCache"]

# Git's "racy clean" rule: a file whose mtime falls within this margin of the moment it was
# hashed may be modified again within the same timestamp tick, so its entry is not trusted.
# Two seconds covers coarse filesystem timestamps (FAT: 2 s; ext3/HFS+/some NFS: 1 s).
RACY_MARGIN_NS = 2_000_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    hashed_at_ns INTEGER NOT NULL
)
"""
_UPSERT = "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?)"
_SELECT = "SELECT path, size, mtime_ns, ino, ctime_ns, digest, hashed_at_ns FROM stat_cache"


class _Entry(NamedTuple):
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    digest: str
    hashed_at_ns: int


class StatCache:
    """Remembers file content digests keyed by path and stat, like Git's index.

    An entry is trusted only when size, mtime_ns, inode and ctime_ns all match the file's
    current stat AND the file's mtime is older than the moment it was hashed minus
    ``RACY_MARGIN_NS``; otherwise the caller re-hashes. ``store`` only buffers; ``flush``
    commits the buffered entries in one transaction. Safe to share between threads; other
    processes may use the same database file (WAL mode, 30 s busy timeout).
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        """Opens (and creates if needed) the ``stat_cache`` table in a SQLite file.

        Args:
            db_path: The SQLite database file (usually the workspace database).
        """
        self.db_path = os.fspath(db_path)
        self._lock = threading.RLock()
        self._rows: dict[str, _Entry] = {}
        self._pending: dict[str, _Entry] = {}
        self._prefetched: set[str] = set()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._connection()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # reconnect in a forked child
            conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: no fsync per commit
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(_SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def lookup(self, path: str | os.PathLike[str], st: os.stat_result) -> str | None:
        """Returns the remembered digest of a file, or None if it must be (re-)hashed.

        Args:
            path: The file's absolute path (the same spelling as given to ``store``).
            st: The file's current ``os.stat`` result.
        """
        key = os.fspath(path)
        if not is_text(key):
            return None  # a name SQLite cannot hold (not UTF-8): hashed every time
        with self._lock:
            entry = self._rows.get(key)
            if entry is None and not self._is_prefetched(key):
                row = self._connection().execute(_SELECT + " WHERE path = ?", (key,)).fetchone()
                entry = None if row is None else _Entry(*row[1:])
        if entry is None or not _matches(entry, st):
            return None
        return entry.digest

    def store(
        self,
        path: str | os.PathLike[str],
        st: os.stat_result,
        digest: str,
        hashed_at_ns: int | None = None,
    ) -> None:
        """Buffers a digest computed from the file's bytes; ``flush`` writes it.

        Args:
            path: The file's absolute path.
            st: The stat taken BEFORE the bytes were read.
            digest: The content fingerprint.
            hashed_at_ns: Wall-clock time (``time.time_ns()``) taken before ``st``; defaults
                to now. The earlier it is, the more conservative the racy check.
        """
        hashed_at = time.time_ns() if hashed_at_ns is None else hashed_at_ns
        entry = _Entry(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, digest, hashed_at)
        key = os.fspath(path)
        if not is_text(key):
            return
        with self._lock:
            self._rows[key] = entry
            self._pending[key] = entry

    def prefetch(self, folder: str | os.PathLike[str]) -> int:
        """Loads every entry under a folder in one query, so lookups there hit memory.

        Args:
            folder: An absolute folder path.

        Returns:
            The number of entries loaded.
        """
        root = os.fspath(folder).rstrip(os.sep) + os.sep
        if not is_text(root):
            return 0
        with self._lock:
            if self._is_prefetched(root):
                return 0
            rows = (
                self._connection()
                .execute(
                    _SELECT + " WHERE path >= ? AND path < ?",
                    (root, root[:-1] + chr(ord(os.sep) + 1)),
                )
                .fetchall()
            )
            for row in rows:
                if row[0] not in self._pending:
                    self._rows[row[0]] = _Entry(*row[1:])
            self._prefetched.add(root)
            return len(rows)

    def flush(self) -> int:
        """Commits buffered entries in one transaction.

        Returns:
            The number of entries written.
        """
        with self._lock:
            if not self._pending:
                return 0
            conn = self._connection()
            rows = [(path, *entry) for path, entry in self._pending.items()]
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._pending.clear()
            return len(rows)

    def close(self) -> None:
        """Flushes and closes the connection."""
        with self._lock:
            self.flush()
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _is_prefetched(self, path: str) -> bool:
        return any(path.startswith(root) for root in self._prefetched)


def is_text(key: str) -> bool:
    """Whether a path or file name read from the disk is UTF-8 text, as SQLite, Parquet and
    pyarrow need (a name that is not decodes with surrogate escapes, which they refuse)."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _matches(entry: _Entry, st: os.stat_result) -> bool:
    return (
        entry.size == st.st_size
        and entry.mtime_ns == st.st_mtime_ns
        and entry.ino == st.st_ino
        and entry.ctime_ns == st.st_ctime_ns
        and st.st_mtime_ns < entry.hashed_at_ns - RACY_MARGIN_NS
    )
