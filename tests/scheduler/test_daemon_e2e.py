"""End to end: the real daemon and CLI in subprocesses, real runs, signals, locks, restarts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.scheduler import Schedule

from .conftest import PIPELINES

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "headrace.engine.cli"]


def headrace(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    if check is not None:
        assert done.returncode == check, done.stderr + done.stdout
    return done


def start_daemon(ws: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "daemon", "-w", str(ws), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def runs(ws: Path, final: bool = False) -> list[dict]:
    with Workspace(ws) as w:
        rows = w.history.list_runs()
    return [r for r in rows if not final or r["status"] in ("Completed", "Failed", "Canceled")]


def test_two_daemons_and_sigterm_cancels_in_flight_run(tmp_path):
    ws = tmp_path / "ws"
    Schedule.create(
        "nap",
        f"{PIPELINES}:sleepy",
        every="1m",
        params={"seconds": 60},
        workspace=ws,
        now=time.time() - 150,
    )  # missed fires: catch-up latest runs one
    first = start_daemon(ws)
    wait_for(lambda: (ws / "scheduler.lock").exists() and (ws / "scheduler.lock").read_text())
    second = headrace("daemon", "-w", str(ws), check=1)
    assert f"pid {first.pid}" in second.stderr and "already running" in second.stderr
    run = wait_for(lambda: [r for r in runs(ws) if r["status"] == "Running"])[0]
    first.send_signal(signal.SIGTERM)
    output, _ = first.communicate(timeout=60)
    assert first.returncode == 0, output
    assert "canceling run" in output
    with Workspace(ws) as w:
        assert w.history.get_run(run["id"])["status"] == "Canceled"


def test_burst_across_a_restart_is_handled_once(tmp_path):
    ws, inbox = tmp_path / "ws", tmp_path / "in"
    inbox.mkdir()
    headrace(
        "schedule",
        "create",
        "inbox",
        "--pipeline",
        f"{PIPELINES}:on_files",
        "--on-change",
        str(inbox),
        "--glob",
        "*.csv",
        "--settle",
        "0.2s",
        "--overlap",
        "queue",
        "-w",
        str(ws),
    )
    daemon = start_daemon(ws)
    wait_for(lambda: (ws / "scheduler.lock").exists() and (ws / "scheduler.lock").read_text())
    names = [f"f{i:03}.csv" for i in range(100)]
    for name in names[:40]:
        (inbox / name).write_text(name)
    wait_for(lambda: runs(ws))  # the first part of the burst fired
    daemon.send_signal(signal.SIGTERM)
    daemon.communicate(timeout=60)
    for name in names[40:]:  # arrive while the daemon is down
        (inbox / name).write_text(name)
    (inbox / names[0]).write_text(names[0])  # same bytes: not a change
    daemon = start_daemon(ws)
    try:
        wait_for(lambda: len(runs(ws)) >= 2 and len(runs(ws, final=True)) == len(runs(ws)), 60)
        time.sleep(1.0)  # nothing else may fire
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    with Workspace(ws) as w:
        rows = w.history.query("SELECT params, run_id FROM firings ORDER BY fire_time")
    handed = [p for r in rows for p in json.loads(r["params"])["files"].split(",")]
    assert sorted(Path(p).name for p in handed) == names  # nothing lost, nothing doubled
    assert len(rows) == 2


def test_cli_errors_list_and_manage(tmp_path):
    ws = str(tmp_path / "ws")
    target = f"{PIPELINES}:sleepy"
    cases = [
        (["--cron", "* * *"], "not a valid cron expression"),
        (["--every", "1d", "-p", "sconds=1"], "unknown parameter 'sconds'"),
        (["--on-change", str(tmp_path / "missing")], "does not exist"),
        (["--every", "1d", "--catch-up", "some"], "--catch-up 'some' is not one of"),
    ]
    for extra, message in cases:
        done = headrace("schedule", "create", "s", "--pipeline", target, *extra, "-w", ws, check=2)
        assert message in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
    done = headrace(
        "schedule",
        "create",
        "s",
        "--pipeline",
        f"{PIPELINES}:nope",
        "--every",
        "1d",
        "-w",
        ws,
        check=2,
    )
    assert "has no pipeline 'nope'" in done.stderr
    headrace(
        "schedule", "create", "s", "--pipeline", target, "--every", "1d", "--at", "02:00", "-w", ws
    )
    assert (
        "already exists"
        in headrace(
            "schedule", "create", "s", "--pipeline", target, "--every", "1d", "-w", ws, check=2
        ).stderr
    )
    headrace("schedule", "trigger", "s", "-p", "tag=manual", "-w", ws)
    listed = json.loads(headrace("schedule", "list", "--json", "-w", ws).stdout)
    assert listed[0]["last_status"] == "Completed" and listed[0]["next_fire"].endswith(
        "02:00:00+00:00"
    )
    headrace("schedule", "disable", "s", "-w", ws)
    assert (
        json.loads(headrace("schedule", "list", "--json", "-w", ws).stdout)[0]["enabled"] is False
    )
    headrace("schedule", "delete", "s", "-w", ws)
    assert "no schedule named 's'" in headrace("schedule", "enable", "s", "-w", ws, check=2).stderr


def test_daemon_once_fires_a_due_schedule_exactly_once(tmp_path):
    ws = tmp_path / "ws"
    Schedule.create(
        "due",
        f"{PIPELINES}:sleepy",
        every="1d",
        params={"tag": "once"},
        workspace=ws,
        now=time.time() - 3 * 86400,
    )  # three missed daily fires; catch-up latest runs the newest one
    done = headrace("daemon", "--once", "-w", str(ws))  # exit 0
    assert "caught up missed fire" in done.stderr and "finished: Completed" in done.stderr
    (run,) = runs(ws)
    assert run["id"].startswith("sched-due-") and run["status"] == "Completed"
    assert run["params"]["tag"] == "once"
    with Workspace(ws) as w:
        rows = w.history.query("SELECT run_id, state, exit_code, reason FROM firings")
    assert [dict(r) for r in rows] == [
        {"run_id": run["id"], "state": "done", "exit_code": 0, "reason": "catch-up"}
    ]
    assert (ws / "scheduler.lock").read_text() == ""  # released
    headrace("daemon", "--once", "-w", str(ws))  # nothing is due any more
    assert [r["id"] for r in runs(ws)] == [run["id"]]
