"""Liveness is the pid *and* its start time: a dead run whose pid was reused is dead."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time

import pytest

from headrace.engine import Workspace
from headrace.engine.status import Status
from headrace.engine.store.history import RUN_DIED, History
from headrace.engine.store.processes import pid_alive, process_start_time
from headrace.scheduler import Daemon, Schedule
from headrace.scheduler.store import DONE, RUNNING, Firing, SchedulerStore

from ..conftest import FakeLauncher
from .support import PIPELINES, wait_for

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


@pytest.fixture
def sleeper():
    """A live process unrelated to any run: it stands for one that got a dead run's pid."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _running(ws: Workspace, run_id: str, pid: int) -> None:
    row = {"id": run_id, "pipeline": "p", "status": Status.RUNNING, "params": {}, "pid": pid}
    ws.history.create_run({**row, "created_at": time.time()}, [("s", "c")])


def _started_at(ws: Workspace, run_id: str, token: str) -> None:
    """The run's process started at another time than the process now holding its pid."""
    with ws.history.transaction() as c:
        c.execute("UPDATE runs SET pid_start=? WHERE id=?", (token, run_id))


def test_reap_marks_a_run_failed_whose_pid_now_belongs_to_another_process(ws, sleeper):
    _running(ws, "reused", sleeper.pid)
    _running(ws, "live", sleeper.pid)  # the same live process, started when recorded: alive
    started = process_start_time(sleeper.pid)
    assert started is not None
    _started_at(ws, "reused", str(int(started) - 100))
    assert ws.history.reap_dead_runs() == ["reused"]
    assert ws.history.get_run("live")["pid_start"] == started
    assert ws.history.run_ended("reused") and not ws.history.run_ended("live")
    reaped = ws.history.get_run("reused")
    assert reaped["status"] == Status.FAILED and reaped["error"] == RUN_DIED
    assert ws.history.get_run("live")["status"] == Status.RUNNING
    assert pid_alive(sleeper.pid, started) and not pid_alive(sleeper.pid, "1")
    assert pid_alive(sleeper.pid)  # without a start time: the old check


def test_an_overlap_skip_trigger_fires_again_once_its_run_with_a_reused_pid_is_reaped(
    tmp_path, ws, sleeper
):
    inbox = tmp_path / "in"
    inbox.mkdir()
    Schedule.create(
        "t", f"{PIPELINES}:on_files", on_change=str(inbox), settle="0.05s", workspace=ws
    )
    store = SchedulerStore(ws.history)
    stale = "sched-t-20260301T000000.000Z"
    store.insert_firings([Firing(stale, "t", 0.0, "trigger", RUNNING, {})], 0.0)
    _running(ws, stale, sleeper.pid)  # its process died; `sleep` got the pid
    _started_at(ws, stale, str(int(process_start_time(sleeper.pid) or 0) - 100))
    launcher = FakeLauncher()
    d = Daemon(ws, launcher=launcher)
    (inbox / "new.csv").write_text("new")

    def fired() -> bool:
        d.step()
        return bool(launcher.started)

    wait_for(fired, 10, every=0.05)
    assert store.firing(stale).refire and store.firing(stale).state == DONE
    assert [f.params["files"] for f in launcher.started if f.reason == "trigger"] == [
        str(inbox / "new.csv")
    ]
    d.shutdown()


def test_an_older_workspace_gets_the_start_time_column_once(tmp_path):
    path = tmp_path / "headrace.db"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE runs (id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, experiment TEXT, "
        "status TEXT NOT NULL, params TEXT NOT NULL, executor TEXT, regenerate_outputs INTEGER "
        "NOT NULL DEFAULT 0, created_at REAL NOT NULL, started_at REAL, finished_at REAL, "
        "error TEXT, source TEXT, pid INTEGER, tags TEXT, outputs TEXT);"
        "INSERT INTO runs (id, pipeline, status, params, created_at, pid) "
        "VALUES ('old', 'p', 'Running', '{}', 0, 1);"
    )
    con.commit()
    con.close()
    for _ in range(2):  # idempotent
        history = History(path)
        assert "pid_start" in history.get_run("old")
        history.close()
    history = History(path)
    assert history.get_run("old")["pid_start"] is None  # an old record: pid check only
    history.close()
