"""Deleting a schedule gives up its open firings (a namesake created later takes none);
disabling one holds them until it is enabled; a SIGTERM from anyone but the daemon is not a
user's cancel; a watched folder that goes missing is a fault, not the deletion of its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.engine.errors import HeadraceError
from headrace.engine.status import Status
from headrace.scheduler import Schedule
from headrace.scheduler.launcher import STOPPED, TERMINATED
from headrace.scheduler.runs import Runs
from headrace.scheduler.source import LocalSource, TriggerSpec
from headrace.scheduler.store import (
    DONE,
    PENDING,
    QUEUED,
    RUNNING,
    SKIPPED,
    Firing,
    SchedulerStore,
)
from headrace.scheduler.triggers import Watch

from ..conftest import PIPELINES, FakeLauncher

SLEEPY = f"{PIPELINES}:sleepy"
BASE = "sched-s-20260301T010000Z"


def _record(ws: Workspace, run_id: str, status: Status, error: str | None = None) -> None:
    row = {"id": run_id, "pipeline": "p", "status": status, "params": {}, "created_at": 0.0}
    ws.history.create_run(row, [])
    if error is not None:
        ws.history.update_run(run_id, error=error)


def _firings(ws: Workspace) -> dict[str, dict]:
    return {r["run_id"]: r for r in ws.history.query("SELECT * FROM firings")}


def test_deleting_a_schedule_gives_up_its_firings_and_a_namesake_takes_none(ws):
    Schedule.create("s", SLEEPY, every="1d", params={"tag": "OLD"}, workspace=ws)
    store = SchedulerStore(ws.history)
    store.insert_firings(
        [
            Firing("sched-s-pending", "s", 0.0, "schedule", PENDING, {"tag": "OLD"}),
            Firing("sched-s-queued", "s", 1.0, "trigger", QUEUED, {"tag": "OLD"}),
            Firing("sched-s-stopped", "s", 2.0, "schedule", RUNNING, {"tag": "OLD"}),
            Firing(BASE, "s", 3.0, "schedule", RUNNING, {"tag": "OLD"}),
        ],
        0.0,
    )
    _record(ws, "sched-s-stopped", Status.CANCELED, STOPPED)  # the daemon stopped it
    launcher = FakeLauncher()
    Runs(ws, store, launcher).recover()  # -> fired again as its next attempt, when due
    assert store.firing("sched-s-stopped-a2").state == PENDING
    Schedule.get("s", ws).delete(ws)
    _record(ws, BASE, Status.CANCELED, STOPPED)  # still going at the delete; stopped later
    Schedule.create("s", SLEEPY, every="1d", params={"tag": "NEW"}, workspace=ws)
    runs_ = Runs(ws, store, launcher)
    runs_.recover()
    runs_.launch({})
    runs_.launch({})
    assert launcher.started == []  # the new "s" runs none of the deleted one's firings
    rows = _firings(ws)
    assert rows["sched-s-pending"]["state"] == rows["sched-s-queued"]["state"] == SKIPPED
    assert rows["sched-s-stopped-a2"]["state"] == SKIPPED
    assert all(r["schedule"].startswith("s (deleted ") for r in rows.values())
    assert not any(r["refire"] for r in rows.values())


def test_a_disabled_schedules_firings_wait_until_it_is_enabled(ws):
    Schedule.create("s", SLEEPY, every="1d", workspace=ws)
    store = SchedulerStore(ws.history)
    store.insert_firings(
        [
            Firing("sched-s-queued", "s", 0.0, "trigger", QUEUED, {}),
            Firing(BASE, "s", 1.0, "schedule", RUNNING, {}),
        ],
        0.0,
    )
    _record(ws, BASE, Status.CANCELED, STOPPED)
    Schedule.get("s", ws).set_enabled(False, ws)
    launcher = FakeLauncher()
    runs_ = Runs(ws, store, launcher)
    runs_.recover()
    runs_.launch({})
    assert launcher.started == []
    assert store.firing(BASE).refire and store.firing(BASE).state == DONE  # not re-armed yet
    assert store.firing("sched-s-queued").state == QUEUED
    Schedule.get("s", ws).set_enabled(True, ws)
    runs_.launch({})
    assert len(launcher.started) == 1  # one at a time, in fire-time order
    for _ in range(2):
        for child in launcher.children.values():
            child.code = 0
        runs_.reap()
        runs_.launch({})
    assert launcher.run_ids == ["sched-s-queued", f"{BASE}-a2"]


@pytest.mark.parametrize(("error", "again"), [(TERMINATED, True), (None, False)])
def test_sigterm_from_anyone_fires_again_but_a_users_cancel_does_not(ws, error, again):
    Schedule.create("s", SLEEPY, every="1d", workspace=ws)
    store = SchedulerStore(ws.history)
    store.insert_firings([Firing(BASE, "s", 0.0, "schedule", RUNNING, {})], 0.0)
    _record(ws, BASE, Status.CANCELED, error or "canceled by the user (KeyboardInterrupt)")
    runs_ = Runs(ws, store, FakeLauncher())
    runs_.reap()
    firing = store.firing(BASE)
    assert (firing.state, firing.refire) == (DONE, again)


def test_a_watched_folder_that_goes_missing_is_a_fault_not_a_deletion(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("a")
    spec = TriggerSpec(str(folder), poll=0.01, settle=0.0)
    source = LocalSource(spec)
    assert list(source.list()) == [str(folder / "a.csv")]
    folder.rename(tmp_path / "away")
    with pytest.raises(
        HeadraceError,
        match=r"the watched folder .*in is missing; its files are not taken as deleted",
    ):
        source.list()
    watch = Watch("t", spec, {str(folder / "a.csv"): "fp"}, source)
    with pytest.raises(HeadraceError, match="is missing"):
        watch.check()
    assert watch.cursor == {str(folder / "a.csv"): "fp"}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux /proc")
def test_a_file_opened_before_the_watch_started_is_taken_once_closed(tmp_path: Path) -> None:
    """No event tells of a writer that opened the file before the daemon started: /proc does."""
    import time

    from headrace.scheduler.open_files import open_for_writing

    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "half.csv"
    writer = path.open("w")
    try:
        writer.write("FIRST-HALF ")
        writer.flush()
        assert open_for_writing([str(path)]) == {str(path)}
        spec = TriggerSpec(str(folder), poll=0.01, settle=0.01)
        watch = Watch("t", spec, {}, LocalSource(spec))
        for _ in range(5):
            time.sleep(0.02)
            assert watch.check() is None  # open for writing: not taken half-written
        writer.write("SECOND-HALF\n")
    finally:
        writer.close()
    watch.on_event("closed", str(path))  # what inotify (the daemon's EventHub) reports
    assert open_for_writing([str(path)]) == set()
    with path.open() as reader:  # open for reading only: not a writer
        assert open_for_writing([str(path)]) == set() and reader.readable()
    change = None
    deadline = time.monotonic() + 5
    while change is None and time.monotonic() < deadline:
        time.sleep(0.02)
        change = watch.check()
    assert change is not None and list(change.changed) == [str(path)]
