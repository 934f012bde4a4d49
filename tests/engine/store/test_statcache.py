"""The SQLite stat cache: unchanged files are not re-read, racy ones are."""

from __future__ import annotations

import enum
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from headrace.engine.fingerprint import files as contenthash
from headrace.engine.fingerprint.keys import (
    fingerprint_file,
    fingerprint_path,
    hash_bytes,
)
from headrace.engine.store.statcache import RACY_MARGIN_NS, StatCache
from tests.engine.trees import write_tree

PAST = time.time() - 3600  # an mtime safely outside the racy window


class Color(enum.Enum):
    RED = 1


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


# ------------------------------------------------------------------------------- stat cache


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Records every file whose bytes are actually read."""
    seen: list[str] = []
    real = contenthash._hash_local_file

    def counting(path):
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(contenthash, "_hash_local_file", counting)
    return seen


def test_stat_cache_skips_unchanged_files(tmp_path: Path, reads: list[str]) -> None:
    root = write_tree(tmp_path / "d", {f"f{i}": b"x" * i for i in range(50)})
    for path in root.iterdir():
        os.utime(path, (PAST, PAST))
    cache = StatCache(tmp_path / "ws.db")
    first = fingerprint_path(root, cache)
    assert len(reads) == 50
    again = StatCache(tmp_path / "ws.db")  # a new process would see the same, from disk
    assert fingerprint_path(root, again) == first == fingerprint_path(root)
    assert len(reads) == 50 + 50  # only the cache-less call above read anything


def test_rewritten_bytes_with_restored_mtime_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"aaaa")
    os.utime(path, (PAST, PAST))
    cache = StatCache(tmp_path / "ws.db")
    before = fingerprint_file(path, cache)
    st_before = path.stat()
    time.sleep(0.05)  # ctime ticks are coarse (a jiffy)
    path.write_bytes(b"bbbb")  # same size, same inode
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))
    st_after = path.stat()
    same = ("st_size", "st_mtime_ns", "st_ino")
    assert [getattr(st_after, k) for k in same] == [getattr(st_before, k) for k in same]
    assert st_after.st_ctime_ns != st_before.st_ctime_ns  # the only witness of the write
    assert fingerprint_file(path, cache) == hash_bytes(b"bbbb") != before


def test_racily_clean_files_are_rehashed(tmp_path: Path, reads: list[str]) -> None:
    path = tmp_path / "fresh.txt"
    path.write_bytes(b"just written")  # mtime is now: inside the racy window
    cache = StatCache(tmp_path / "ws.db")
    fingerprint_file(path, cache)
    fingerprint_file(path, cache)
    assert len(reads) == 2
    os.utime(path, (PAST, PAST))
    fingerprint_file(path, cache)
    fingerprint_file(path, cache)
    assert len(reads) == 3


def _stat(size=4, mtime_ns=1_000, ino=7, ctime_ns=2_000) -> os.stat_result:
    seconds = (0, mtime_ns // 10**9, ctime_ns // 10**9)
    fields = (0o100644, ino, 0, 1, 0, 0, size, *seconds, *map(float, seconds))
    return os.stat_result((*fields, 0, mtime_ns, ctime_ns))


def test_stat_cache_rules(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "ws.db")
    hashed_at = 10 * RACY_MARGIN_NS
    cache.store("/d/f", _stat(), "d" * 32, hashed_at_ns=hashed_at)
    assert cache.lookup("/d/f", _stat()) == "d" * 32
    assert cache.lookup("/d/other", _stat()) is None
    for changed in ({"size": 5}, {"mtime_ns": 1_001}, {"ino": 8}, {"ctime_ns": 2_001}):
        assert cache.lookup("/d/f", _stat(**changed)) is None, changed
    racy = hashed_at - RACY_MARGIN_NS
    cache.store("/d/racy", _stat(mtime_ns=racy), "e" * 32, hashed_at_ns=hashed_at)
    assert cache.lookup("/d/racy", _stat(mtime_ns=racy)) is None
    assert cache.flush() == 2
    assert cache.flush() == 0


def test_stat_cache_shares_the_workspace_database(tmp_path: Path) -> None:
    db = tmp_path / "ws.db"
    with sqlite3.connect(db) as other:
        other.execute("CREATE TABLE runs (id TEXT PRIMARY KEY)")
        other.execute("INSERT INTO runs VALUES ('r1')")
    with StatCache(db) as cache:
        cache.store("/w/a", _stat(), "a" * 32, hashed_at_ns=10 * RACY_MARGIN_NS)
        cache.store("/w/b/c", _stat(), "c" * 32, hashed_at_ns=10 * RACY_MARGIN_NS)
        cache.store("/wx", _stat(), "f" * 32, hashed_at_ns=10 * RACY_MARGIN_NS)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT id FROM runs").fetchall() == [("r1",)]
        assert conn.execute("SELECT COUNT(*) FROM stat_cache").fetchone() == (3,)
    reopened = StatCache(db)
    assert reopened.prefetch("/w") == 2  # "/wx" is not under "/w"
    assert reopened.lookup("/w/b/c", _stat()) == "c" * 32


def test_stat_cache_is_thread_safe(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "ws.db")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                cache.store(f"/t/{n}/{i}", _stat(), f"{n:032x}", hashed_at_ns=10**12)
                assert cache.lookup(f"/t/{n}/{i}", _stat()) == f"{n:032x}"
                if i % 50 == 0:
                    cache.flush()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.flush()
    assert not errors
    assert StatCache(tmp_path / "ws.db").prefetch("/t") == 800
