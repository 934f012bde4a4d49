"""Data-change triggers: real files and events, settle, debounce, touch, memory:// polling."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import fsspec
import pytest

from headrace.engine.errors import HeadraceError, ParameterError
from headrace.scheduler import Daemon, Schedule, TriggerSpec
from headrace.scheduler.source import open_source
from headrace.scheduler.triggers import EventHub, Watch

from .conftest import PIPELINES, FakeLauncher

SETTLE = 0.2


def settle(watch: Watch, timeout: float = 5.0):
    """Check until a change comes back (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        change = watch.check()
        if change is not None:
            return change
        time.sleep(0.02)
    return None


def local_watch(folder: Path, cursor=None, glob="*") -> Watch:
    spec = TriggerSpec(str(folder), glob=glob, poll=30, settle=SETTLE)
    return Watch("t", spec, cursor or {})


def test_write_fires_and_touch_does_not(tmp_path):
    (tmp_path / "a.csv").write_text("1")
    watch = local_watch(tmp_path)
    first = settle(watch)
    assert list(first.changed) == [str(tmp_path / "a.csv")]
    watch.commit(first)
    os.utime(tmp_path / "a.csv", (time.time() + 5, time.time() + 5))
    watch.dirty.set()
    touched = settle(watch)
    assert touched.changed == {} and touched.ignored == [str(tmp_path / "a.csv")]


def test_glob_and_temp_files(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.csv", "b.txt", ".a.csv.part", "sub/c.csv"):
        (tmp_path / name).write_text(name)
    change = settle(local_watch(tmp_path, glob="*.csv"))
    assert sorted(Path(p).name for p in change.changed) == ["a.csv", "c.csv"]


def test_partial_write_waits_for_the_settle_window(tmp_path):
    watch = local_watch(tmp_path)
    path = tmp_path / "big.bin"
    with open(path, "wb") as handle:
        for _ in range(6):
            handle.write(b"x" * 1000)
            handle.flush()
            watch.dirty.set()
            assert watch.check() is None  # still growing
            time.sleep(SETTLE / 2)
    change = settle(watch)
    assert list(change.changed) == [str(path)]


def test_burst_of_100_files_is_one_change_and_events_wake(tmp_path):
    wake = threading.Event()
    hub = EventHub(wake)
    watch = local_watch(tmp_path)
    assert watch.check() is None  # the first listing: empty folder
    hub.add(watch)
    try:
        for i in range(100):
            (tmp_path / f"f{i:03}.csv").write_text(str(i))
        assert wake.wait(5)
        change = settle(watch)
    finally:
        hub.stop()
    assert len(change.changed) == 100
    assert settle(watch, timeout=3 * SETTLE) is None


def test_move_in_fires(tmp_path):
    inbox, outside = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    outside.mkdir()
    (outside / "x.csv").write_text("moved")
    watch = local_watch(inbox)
    assert watch.check() is None
    shutil.move(outside / "x.csv", inbox / "x.csv")
    watch.dirty.set()
    assert list(settle(watch).changed) == [str(inbox / "x.csv")]


def test_memory_store_is_polled():
    fs = fsspec.filesystem("memory")
    fs.pipe("/hr-test/in/a.csv", b"1")
    spec = TriggerSpec("memory://hr-test/in", glob="*.csv", poll=0.05, settle=0.05)
    cursor = open_source(spec).snapshot()
    watch = Watch("m", spec, cursor)
    assert settle(watch, timeout=0.5) is None  # nothing new since the snapshot
    fs.pipe("/hr-test/in/b.csv", b"2")
    fs.pipe("/hr-test/in/a.csv", b"1")  # rewritten with the same bytes
    change = settle(watch)
    assert list(change.changed) == ["memory://hr-test/in/b.csv"]
    fs.rm("/hr-test", recursive=True)


def test_daemon_trigger_passes_files_and_persists_cursor(tmp_path, ws):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "old.csv").write_text("old")  # there before the trigger: not a change
    Schedule.create(
        "t",
        f"{PIPELINES}:on_files",
        on_change=str(inbox),
        settle="0.1s",
        overlap="allow",
        workspace=ws,
    )
    launcher = FakeLauncher()
    d = Daemon(ws, launcher=launcher)
    d.step()
    (inbox / "new1.csv").write_text("1")
    (inbox / "new2.csv").write_text("2")
    d.watches["t"].dirty.set()
    deadline = time.monotonic() + 5
    while not launcher.started and time.monotonic() < deadline:
        time.sleep(0.05)
        d.step()
    files = launcher.started[0].params["files"].split(",")
    assert files == [str(inbox / "new1.csv"), str(inbox / "new2.csv")]
    fresh = FakeLauncher()
    d2 = Daemon(ws, launcher=fresh)  # a restart: the cursor says both were handled
    for _ in range(6):
        d2.step()
        time.sleep(0.05)
    assert fresh.started == []


def test_daemon_path_parameter_gets_file_or_folder(tmp_path, ws):
    inbox = tmp_path / "in"
    inbox.mkdir()
    Schedule.create(
        "p",
        f"{PIPELINES}:on_path",
        on_change=str(inbox),
        settle="0.05s",
        overlap="allow",
        workspace=ws,
    )
    launcher = FakeLauncher()
    d = Daemon(ws, launcher=launcher)
    d.step()
    for batch in (["one.csv"], ["two.csv", "three.csv"]):
        for name in batch:
            (inbox / name).write_text(name)
        d.watches["p"].dirty.set()
        count = len(launcher.started)
        deadline = time.monotonic() + 5
        while len(launcher.started) == count and time.monotonic() < deadline:
            time.sleep(0.05)
            d.step()
    assert [f.params["path"] for f in launcher.started] == [
        str(inbox / "one.csv"),
        f"{inbox / 'three.csv'},{inbox / 'two.csv'}",  # the child makes them a per-firing folder
    ]


def test_create_errors(tmp_path, ws):
    with pytest.raises(HeadraceError, match="does not exist or is not a folder"):
        Schedule.create(
            "t", f"{PIPELINES}:on_files", on_change=str(tmp_path / "nope"), workspace=ws
        )
    with pytest.raises(ParameterError, match="must be annotated Path"):
        Schedule.create(
            "t", f"{PIPELINES}:sleepy", on_change=str(tmp_path), data_path_param="tag", workspace=ws
        )
    with pytest.raises(ParameterError, match="unknown parameter 'sconds'"):
        Schedule.create("t", f"{PIPELINES}:sleepy", every="1d", params={"sconds": 1}, workspace=ws)
    Schedule.create("t", f"{PIPELINES}:sleepy", every="1d", workspace=ws)
    with pytest.raises(HeadraceError, match="already exists"):
        Schedule.create("t", f"{PIPELINES}:sleepy", every="1d", workspace=ws)
    with pytest.raises(HeadraceError, match="exactly one of --cron, --every or --on-change"):
        Schedule.create("u", f"{PIPELINES}:sleepy", every="1d", cron="* * * * *", workspace=ws)


def test_a_file_rewritten_while_its_firing_is_queued_is_read_once(tmp_path, ws):
    """Its queued firing reads it when it starts, so no second firing reads the same new
    content again; a file that is not in the queued firing fires on its own."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    Schedule.create(
        "q", f"{PIPELINES}:on_files", on_change=str(inbox), settle="0.1s", overlap="queue",
        workspace=ws,
    )  # fmt: skip
    launcher = FakeLauncher()
    d = Daemon(ws, launcher=launcher)
    d.step()

    def fire(name: str, text: str) -> None:
        """Write a file and step the daemon until its trigger has handled it."""
        path = str(inbox / name)
        before = d.watches["q"].cursor.get(path)
        (inbox / name).write_text(text)
        d.watches["q"].dirty.set()
        deadline = time.monotonic() + 5
        while d.watches["q"].cursor.get(path) == before and time.monotonic() < deadline:
            time.sleep(0.05)
            d.step()

    fire("a.csv", "A")  # runs (its run stays in flight)
    fire("b.csv", "b-1")  # queued behind it
    time.sleep(0.2)
    fire("b.csv", "b-2")  # rewritten while queued: the queued firing reads it once
    fire("c.csv", "C")  # another file: a firing of its own
    d.step()
    rows = ws.history.query("SELECT state, params FROM firings ORDER BY fire_time")
    assert [r["state"] for r in rows] == ["running", "queued", "queued"]
    assert [json.loads(r["params"])["files"] for r in rows] == [
        str(inbox / n) for n in ("a.csv", "b.csv", "c.csv")
    ]
    for _ in range(3):
        launcher.finish_all()
        d.step()
    assert [f.params["files"] for f in launcher.started] == [
        str(inbox / n) for n in ("a.csv", "b.csv", "c.csv")
    ]
