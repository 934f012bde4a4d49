"""File names that are not UTF-8 are inputs like any other (SQLite cannot store them as text)."""

from __future__ import annotations

import os
from pathlib import Path

from headrace.engine import Workspace, component, pipeline
from headrace.engine.store.statcache import StatCache


@component
def count(folder: Path) -> int:
    return len(list(folder.iterdir()))


@pipeline
def counting(folder: Path):
    return {"n": count(folder=folder)}


def _bad_name(folder: Path, content: bytes) -> None:
    fd = os.open(os.path.join(os.fsencode(folder), b"bad\xff name.csv"), os.O_CREAT | os.O_WRONLY)
    os.write(fd, content)
    os.close(fd)


def test_a_folder_input_with_a_non_utf8_file_name_runs_and_is_reused(
    ws: Workspace, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.csv").write_text("1\n")
    _bad_name(data, b"2\n")
    first = counting.submit(params={"folder": str(data)}, workspace=ws)
    assert first.status == "Completed" and first.outputs["n"].load() == 2
    again = counting.submit(params={"folder": str(data)}, workspace=ws)
    assert again.steps["count"].reused
    _bad_name(data, b"3\n")  # same name, other bytes: seen although it is never cached
    changed = counting.submit(params={"folder": str(data)}, workspace=ws)
    assert not changed.steps["count"].reused


def test_the_stat_cache_skips_names_it_cannot_store(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "c.db")
    name = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"x\xff"))
    Path(name).write_bytes(b"x")
    st = os.stat(name)
    cache.store(name, st, "0" * 32, hashed_at_ns=0)
    assert cache.lookup(name, st) is None and cache.prefetch(name) == 0
    cache.close()
