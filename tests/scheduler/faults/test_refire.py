"""A firing whose run did not complete fires again (a new attempt id); a user's cancel does not."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.engine.status import Status
from headrace.scheduler import Daemon, Schedule
from headrace.scheduler.launcher import STOPPED
from headrace.scheduler.runs import Runs
from headrace.scheduler.store import DONE, PENDING, RUNNING, Firing, SchedulerStore, attempt_run_id

from ..conftest import PIPELINES as BASIC_PIPELINES
from ..conftest import FakeLauncher
from .support import DaemonProcess, create_trigger, firings, kill, ledger, run, runs, wait_for

NAMES = [f"part-{i:02}.csv" for i in range(20)]


def _in_flight(tmp_path: Path) -> tuple[Path, Path, Path, DaemonProcess, dict]:
    """A trigger whose run of 20 files is held in flight (at the gate) by a real daemon."""
    ws, inbox, book, gate = (tmp_path / n for n in ("ws", "in", "ledger.jsonl", "gate"))
    inbox.mkdir()
    gate.write_text("closed")
    create_trigger(ws, "inbox", "on_files", inbox, "-p", f"ledger={book}", "-p", f"gate={gate}")
    daemon = DaemonProcess(ws, tmp_path / "daemon-1.log")
    for name in NAMES:
        (inbox / name).write_text(name)
    first = wait_for(lambda: [r for r in runs(ws) if r["status"] == Status.RUNNING])[0]
    return ws, book, gate, daemon, first


def _completes_once_after_restart(tmp_path: Path, ws: Path, book: Path, gate: Path, first: dict):
    gate.unlink()  # the next attempt goes through
    daemon = DaemonProcess(ws, tmp_path / "daemon-2.log")
    try:
        again = attempt_run_id(first["id"], 1, 2)
        wait_for(lambda: (run(ws, again) or {}).get("status") == Status.COMPLETED, 90)
        time.sleep(1.0)  # nothing else may start
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert [r["id"] for r in runs(ws)] == [first["id"], again]
    assert sorted(e["name"] for e in ledger(book)) == NAMES  # all 20, each once
    assert {e["run"] for e in ledger(book)} == {again}
    (row,) = firings(ws)
    assert (row["run_id"], row["attempt"], row["state"], row["refire"]) == (again, 2, DONE, 0)
    assert "firing it again as run " + again in daemon.output()


@pytest.mark.slow
def test_a_run_the_daemon_stopped_with_sigterm_runs_again_after_a_restart(tmp_path):
    ws, book, gate, daemon, first = _in_flight(tmp_path)
    assert daemon.stop(signal.SIGTERM) == 0, daemon.output()
    stopped = run(ws, first["id"])
    assert stopped is not None and stopped["status"] == Status.CANCELED
    assert stopped["error"] == STOPPED and "by the user" not in stopped["error"]
    assert ledger(book) == []
    _completes_once_after_restart(tmp_path, ws, book, gate, first)


@pytest.mark.slow
def test_a_run_killed_with_the_daemon_runs_again_after_a_restart(tmp_path):
    ws, book, gate, daemon, first = _in_flight(tmp_path)
    daemon.stop(signal.SIGKILL)
    kill(first["pid"])  # the run's own process, in its own session, dies with it
    wait_for(lambda: not Path(f"/proc/{first['pid']}").exists() or _zombie(first["pid"]), 10)
    _completes_once_after_restart(tmp_path, ws, book, gate, first)
    assert run(ws, first["id"])["status"] == Status.FAILED


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_a_users_cancel_gives_up_on_the_firing(tmp_path):
    ws, book, gate, daemon, first = _in_flight(tmp_path)
    try:
        kill(first["pid"], signal.SIGINT)  # the user cancels the run (Ctrl-C to its process)
        wait_for(lambda: firings(ws)[0]["state"] == DONE, 30)
        gate.unlink()
        time.sleep(1.5)
    finally:
        assert daemon.stop() == 0, daemon.output()
    canceled = run(ws, first["id"])
    assert canceled["status"] == Status.CANCELED and "by the user" in canceled["error"]
    DaemonProcess(ws, tmp_path / "daemon-2.log").stop()  # a restart does not fire it either
    assert [r["id"] for r in runs(ws)] == [first["id"]] and ledger(book) == []
    (row,) = firings(ws)
    assert row["refire"] == 0 and "canceled by the user" in row["note"]


def _record(ws: Workspace, run_id: str, status: Status) -> None:
    row = {"id": run_id, "pipeline": "p", "status": status, "params": {}, "created_at": 0.0}
    ws.history.create_run(row, [])


def test_a_run_recorded_completed_is_never_started_again(ws):
    Schedule.create("s", f"{BASIC_PIPELINES}:sleepy", every="1d", workspace=ws)
    store = SchedulerStore(ws.history)
    for run_id, state in (("sched-s-running", RUNNING), ("sched-s-pending", PENDING)):
        store.insert_firings([Firing(run_id, "s", 0.0, "schedule", state, {})], 0.0)
        _record(ws, run_id, Status.COMPLETED)  # it completed while no daemon watched
    launcher = FakeLauncher()
    d = Daemon(ws, launcher=launcher)
    d.recover()
    d.step()
    d.step()
    assert launcher.started == []
    states = {f.run_id: f.state for f in store.firings([RUNNING, DONE, PENDING])}
    assert states == {"sched-s-running": DONE, "sched-s-pending": DONE}


def test_a_refire_gets_the_next_attempt_id_recorded_before_its_launch(ws):
    Schedule.create("s", f"{BASIC_PIPELINES}:sleepy", every="1d", workspace=ws)
    store = SchedulerStore(ws.history)
    base = "sched-s-20260301T010000Z"
    store.insert_firings([Firing(base, "s", 0.0, "schedule", RUNNING, {"tag": "x"})], 0.0)
    _record(ws, base, Status.CANCELED)
    ws.history.update_run(base, error=STOPPED)
    launcher = FakeLauncher()
    runs_ = Runs(ws, store, launcher)
    runs_.recover()  # stopped by the daemon: fired again, as its next attempt
    assert store.firing(base) is None and store.firing(f"{base}-a2").state == PENDING
    runs_.launch({})
    assert launcher.run_ids == [f"{base}-a2"] and launcher.started[0].params == {"tag": "x"}
    assert store.firing(f"{base}-a2").state == RUNNING and store.firing(base) is None
    launcher.children[f"{base}-a2"].code = 1  # ended before recording a run: retried later
    runs_.reap()
    row = store.firing(f"{base}-a2")
    assert row.refire and row.state == DONE and row.not_before > time.time() + 1
    assert store.fault("s").failures == 1 and "ended (exit 1) before it started" in row_note(ws)
    runs_.launch({})  # not before the backoff is over...
    assert launcher.run_ids == [f"{base}-a2"]
    Runs(ws, store, launcher).recover()  # ...or a restart
    runs_.launch({})
    assert launcher.run_ids == [f"{base}-a2", f"{base}-a3"]
    assert attempt_run_id(f"{base}-a3", 3, 4) == f"{base}-a4" == attempt_run_id(base, 1, 4)


def row_note(ws: Workspace) -> str:
    return ws.history.query("SELECT note FROM firings")[0]["note"]


KILLED_AFTER_POPEN = """
import os, signal, sys
from pathlib import Path
from headrace.engine import Workspace
from headrace.scheduler.launcher import SubprocessLauncher
from headrace.scheduler.store import RUNNING, SchedulerStore
ws = Workspace(sys.argv[1])
store = SchedulerStore(ws.history)
firing = store.firing(sys.argv[2])
store.set_state(firing.run_id, RUNNING, 0.0)
child = SubprocessLauncher().start(firing, sys.argv[3], ws.root)
print(child.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the daemon dies before it records the child
"""


def test_a_child_the_killed_daemon_never_recorded_runs_nothing_and_fires_once(ws, tmp_path):
    """SIGKILL between starting a firing's process and recording its pid: the process runs
    nothing (it waits for the daemon's go), so the next daemon's re-fire is the only run."""
    Schedule.create("s", f"{BASIC_PIPELINES}:sleepy", every="1d", workspace=ws)
    store = SchedulerStore(ws.history)
    base = "sched-s-20260301T010000Z"
    store.insert_firings([Firing(base, "s", 0.0, "schedule", PENDING, {})], 0.0)
    script = tmp_path / "daemon_dies.py"
    script.write_text(KILLED_AFTER_POPEN)
    target = f"{BASIC_PIPELINES}:sleepy"
    done = subprocess.run(
        [sys.executable, str(script), str(ws.root), base, target],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pid = int(done.stdout.split()[0])
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 30)
    log = (ws.root / "scheduler-logs" / f"{base}.log").read_text()
    assert "ended before it recorded this run's process, so it ran nothing" in log
    assert ws.history.get_run(base) is None  # it never started the run
    assert store.firing(base).child_pid is None and store.firing(base).state == RUNNING
    launcher = FakeLauncher()
    d = Daemon(ws, launcher=launcher)
    d.recover()
    d.step()
    d.step()
    assert launcher.run_ids == [f"{base}-a2"]  # fired again, once
