"""``schedule create/list`` and ``daemon status/--detach/stop`` through the real CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.engine.status import Status
from headrace.scheduler import Schedule
from headrace.scheduler.lock import LOG_FILE, PID_FILE, read_pid_file

from .conftest import PIPELINES

CLI = [sys.executable, "-m", "headrace.engine.cli"]


def headrace(*args: str, check: int | None = 0, cwd: Path | None = None):
    env = {k: v for k, v in os.environ.items() if k != "HEADRACE_HOME"}
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )
    if check is not None:
        assert done.returncode == check, done.stdout + done.stderr
    return done


def test_relative_paths_in_parameters_resolve_where_the_schedule_is_created(tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "data").mkdir(parents=True)
    elsewhere.mkdir()
    (project / "data" / "a.csv").write_text("a")
    (project / "data" / "b.csv").write_text("b")
    ws = tmp_path / "ws"
    headrace(
        "schedule", "create", "one", "--pipeline", f"{PIPELINES}:on_path", "--every", "1d",
        "-p", "path=data/a.csv", "-w", str(ws), cwd=project,
    )  # fmt: skip
    headrace(
        "schedule", "create", "many", "--pipeline", f"{PIPELINES}:on_files", "--every", "1d",
        "-p", "files=data/a.csv,data/b.csv", "-w", str(ws), cwd=project,
    )  # fmt: skip
    assert Schedule.get("one", ws).params == {"path": str(project / "data" / "a.csv")}
    many = Schedule.get("many", ws).params["files"]
    assert many == f"{project / 'data' / 'a.csv'},{project / 'data' / 'b.csv'}"
    done = headrace("schedule", "trigger", "one", "-w", str(ws), cwd=elsewhere)  # another folder
    assert "Completed" in done.stdout


@pytest.mark.slow
def test_schedule_create_takes_an_executor_and_its_runs_use_it(tmp_path):
    ws = tmp_path / "ws"
    headrace(
        "schedule", "create", "on-dask", "--pipeline", f"{PIPELINES}:sleepy", "--every", "1d",
        "--executor", "dask", "-w", str(ws),
    )  # fmt: skip
    assert Schedule.get("on-dask", ws).executor == "dask"
    done = headrace("schedule", "trigger", "on-dask", "-w", str(ws))  # a LocalCluster
    assert "distributed." not in done.stderr  # its INFO logs stay quiet
    with Workspace(ws) as w:
        (row,) = w.history.list_runs()
    assert row["executor"] == "dask" and row["status"] == Status.COMPLETED
    far = headrace(
        "schedule", "create", "far", "--pipeline", f"{PIPELINES}:sleepy", "--every", "1d",
        "--executor", "dask", "--dask-address", "tcp://127.0.0.1:9", "-w", str(ws),
    )  # fmt: skip
    assert "no Dask scheduler answers there" in far.stderr  # a warning: it may start later
    made = Schedule.get("far", ws)
    assert (made.executor, made.dask_address) == ("dask", "tcp://127.0.0.1:9")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--executor", "spark"], r"--executor 'spark' is not one of local, local-processes"),
        (["--dask-address", "tcp://h:1"], "--dask-address goes with --executor dask"),
        (["--every", "5x"], "--every '5x' is not a duration"),
        (["--every", "1d", "--at", "25:00"], "--at '25:00' is not a time of day"),
        (["--cron", "* *"], "--cron '\\* \\*' is not a valid cron expression"),
        (["--every", "1d", "--timezone", "Mars/Base"], "--timezone 'Mars/Base' is not a known"),
    ],
)
def test_schedule_errors_name_the_flag(tmp_path, extra, message):
    timing = [] if any(a in extra for a in ("--every", "--cron")) else ["--every", "1d"]
    done = headrace(
        "schedule", "create", "x", "--pipeline", f"{PIPELINES}:sleepy", *timing, *extra,
        "-w", str(tmp_path / "ws"), check=2,
    )  # fmt: skip
    text = " ".join(done.stderr.split())
    assert re.search(message, text), text
    assert "Traceback" not in done.stderr
    assert not re.search(r"\b(parse_every|Recurrence|Cron):", text)


def test_schedule_list_is_not_cut_when_piped_and_its_times_say_their_zone(tmp_path):
    ws = tmp_path / "ws"
    long_name = "a-schedule-with-a-rather-long-name-that-would-not-fit-in-eighty-columns"
    headrace(
        "schedule", "create", long_name, "--pipeline", f"{PIPELINES}:sleepy", "--every", "1d",
        "--at", "02:00", "--timezone", "Europe/Berlin", "-w", str(ws),
    )  # fmt: skip
    listed = headrace("schedule", "list", "-w", str(ws)).stdout
    assert long_name in listed  # whole, not folded or cut
    assert re.search(r"\d\d:\d\d:\d\d (CET|CEST)", listed)
    as_json = json.loads(headrace("schedule", "list", "--json", "-w", str(ws)).stdout)
    assert as_json[0]["next_fire_local"].endswith(("CET", "CEST"))


def test_schedule_create_warns_when_no_daemon_runs(tmp_path):
    done = headrace(
        "schedule", "create", "x", "--pipeline", f"{PIPELINES}:sleepy", "--every", "1d",
        "-w", str(tmp_path / "ws"),
    )  # fmt: skip
    assert (
        "no daemon runs for workspace" in done.stderr and "headrace daemon --detach" in done.stderr
    )


@pytest.mark.slow
def test_daemon_detach_status_and_stop(tmp_path):
    ws = tmp_path / "ws"
    headrace("daemon", "status", "-w", str(ws), check=2)  # no workspace yet: nothing created
    assert not ws.exists()
    Workspace(ws).close()
    assert "no daemon runs" in headrace("daemon", "status", "-w", str(ws), check=1).stdout
    started = headrace("daemon", "--detach", "-w", str(ws)).stdout
    info = read_pid_file(ws)
    assert info is not None and info.running
    assert str(ws / LOG_FILE) in started and str(ws / PID_FILE) in started
    try:
        time.sleep(1.2)
        status = headrace("daemon", "status", "-w", str(ws)).stdout
        assert f"pid {info.pid}" in status and re.search(r"up 0m [1-9]\d*s", status), status
        again = headrace("daemon", "--detach", "-w", str(ws), check=1)
        assert f"already runs for workspace {ws} (pid {info.pid})" in " ".join(again.stderr.split())
        created = headrace(
            "schedule", "create", "x", "--pipeline", f"{PIPELINES}:sleepy", "--every", "1d",
            "-w", str(ws),
        )  # fmt: skip
        assert "no daemon runs" not in created.stderr
        assert "daemon started (pid" in (ws / LOG_FILE).read_text()
        assert "stopped the daemon" in headrace("daemon", "stop", "-w", str(ws)).stdout
    finally:
        if read_pid_file(ws) is not None and read_pid_file(ws).running:  # type: ignore[union-attr]
            os.kill(info.pid, signal.SIGTERM)
    assert read_pid_file(ws) is None
    assert "daemon stopped" in (ws / LOG_FILE).read_text()
    headrace("daemon", "status", "-w", str(ws), check=1)
