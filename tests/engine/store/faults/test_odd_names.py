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


def _mixed(tmp_path: Path) -> Path:
    """A folder with good.csv ("1\\n") and a non-UTF-8 name ("2\\n")."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.csv").write_text("1\n")
    _bad_name(data, b"2\n")
    return data


def test_a_folder_input_with_a_non_utf8_file_name_runs_and_is_reused(
    ws: Workspace, tmp_path: Path
) -> None:
    data = _mixed(tmp_path)
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


@component
def pick(folder: Path) -> Path:
    return max(folder.iterdir(), key=_not_utf8)


@component
def pick_all(folder: Path) -> list[Path]:
    return sorted(folder.iterdir(), key=_not_utf8)  # the UTF-8 name first


def _not_utf8(path: Path) -> bool:
    return b"\xff" in os.fsencode(path.name)


@pipeline
def picking(folder: Path):
    return {"one": pick(folder=folder)}


@pipeline
def picking_all(folder: Path):
    return {"all": pick_all(folder=folder)}


def test_returning_a_file_whose_name_is_not_utf8_fails_the_step_clearly(
    ws: Workspace, tmp_path: Path
) -> None:
    """The returned file's own name is recorded as text: one clear error, nothing stored."""
    data = _mixed(tmp_path)
    run = picking.submit(params={"folder": str(data)}, workspace=ws)
    assert run.status == "Failed"
    error = run.steps["pick"].error or ""
    assert error.startswith("ArtifactError: step 'pick'") and "not UTF-8 text" in error
    assert "/bad\\xff name.csv'" in error and "return the folder that holds it" in error
    assert "UnicodeEncodeError" not in (run.steps["pick"].traceback or "")


def test_files_with_non_utf8_names_inside_a_returned_list_are_kept(
    ws: Workspace, tmp_path: Path
) -> None:
    data = _mixed(tmp_path)
    run = picking_all.submit(params={"folder": str(data)}, workspace=ws)
    assert run.status == "Completed", run.steps["pick_all"].error
    stored = run.outputs["all"].load()
    assert [p.read_bytes() for p in stored] == [b"1\n", b"2\n"]
    assert os.fsencode(stored[1].name) == b"bad\xff name.csv"  # its own name, no prefix
