"""Every firing is visible: one that never started is a Failed run; queued fires run in order."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.engine.status import Status
from headrace.scheduler import Daemon, Schedule
from headrace.scheduler.runs import NOT_STARTED
from headrace.scheduler.store import RUN_FAULT, SchedulerStore

from .conftest import PIPELINES, Clock

CLI = [sys.executable, "-m", "headrace.engine.cli"]


def headrace(*args: str, check: int | None = 0, cwd: Path | None = None):
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    if check is not None:
        assert done.returncode == check, done.stdout + done.stderr
    return done


@pytest.mark.slow
def test_a_firing_whose_pipeline_file_is_broken_is_a_failed_run_with_its_error(tmp_path, caplog):
    ws_path, flows = tmp_path / "ws", tmp_path / "flows.py"
    shutil.copy(PIPELINES, flows)
    Schedule.create("nightly", f"{flows}:sleepy", every="1h", start_time="now", workspace=ws_path)
    flows.write_text(flows.read_text() + "\nraise RuntimeError('half-edited file')\n")
    ws = Workspace(ws_path)
    with caplog.at_level(logging.DEBUG, logger="headrace.scheduler"):
        for i in range(3):  # the first attempt, then two retries of the same firing
            # each pass waits out the doubling backoff first, and the backoff is long enough
            # that a pass never re-fires the attempt it has just seen fail
            time.sleep(0.3 * 2 ** (i - 1) + 0.1 if i else 0)
            Daemon(ws, backoff=0.3).run_once()
    runs = headrace("runs", "list", "--json", "-w", str(ws_path))
    listed = json.loads(runs.stdout)
    assert [r["status"] for r in listed] == [Status.FAILED] * 3
    ids = sorted(r["id"] for r in listed)
    assert ids[1:] == [ids[0] + "-a2", ids[0] + "-a3"]
    shown = json.loads(headrace("runs", "show", ids[0], "--json", "-w", str(ws_path)).stdout)
    assert shown["error"].startswith(NOT_STARTED)
    assert "RuntimeError: half-edited file" in shown["error"] and shown["pipeline"] == "sleepy"
    assert ws.history.get_run(ids[0])["source"] == f"{flows}:sleepy"  # runs rerun can start it
    assert ws.history.get_run(ids[0])["tags"] == {"schedule": "nightly"}  # runs list --schedule
    assert shown["tags"] == {"schedule": "nightly"}
    human = headrace("runs", "show", ids[0], "-w", str(ws_path)).stdout
    assert "tags schedule nightly" in human and "no step ran" in human
    assert "error did not start: " in human and "half-edited file" in human
    scheduled = headrace("runs", "list", "--schedule", "nightly", "--json", "-w", str(ws_path))
    assert sorted(r["id"] for r in json.loads(scheduled.stdout)) == ids
    listing = json.loads(headrace("schedule", "list", "--json", "-w", str(ws_path)).stdout)[0]
    assert listing["last_status"] == Status.FAILED  # not "Starting" for ever
    assert "half-edited file" in listing["error"] and listing["failures"] == 3
    fault = SchedulerStore(ws.history).fault("nightly")
    assert fault is not None and fault.source == RUN_FAULT
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # the same failure: once
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert not any("did not complete; firing it again as run" in m and "-a3" in m for m in info)
    human = headrace("schedule", "list", "-w", str(ws_path)).stdout
    assert "Failed" in human and "half-edited file" in human


@pytest.mark.slow
def test_a_fixed_file_runs_the_same_firing_after_its_failed_attempts(tmp_path):
    ws_path, flows = tmp_path / "ws", tmp_path / "flows.py"
    shutil.copy(PIPELINES, flows)
    good = flows.read_text()
    Schedule.create("nightly", f"{flows}:sleepy", every="1h", start_time="now", workspace=ws_path)
    flows.write_text(good + "\nraise RuntimeError('broken')\n")
    ws = Workspace(ws_path)
    Daemon(ws, backoff=0.01).run_once()
    flows.write_text(good)
    Daemon(ws, backoff=0.01).run_once()
    # the first pass may retry the broken file more than once (backoff=0.01 s is due again
    # while run_once waits): every attempt of the one firing failed until the fix, then it ran
    runs = sorted(ws.history.list_runs(), key=lambda r: r["created_at"])
    firing = runs[0]["id"]
    assert [r["id"] for r in runs] == [firing] + [f"{firing}-a{n}" for n in range(2, len(runs) + 1)]
    assert [r["status"] for r in runs] == [Status.FAILED] * (len(runs) - 1) + [Status.COMPLETED]
    assert len(runs) >= 2
    assert SchedulerStore(ws.history).fault("nightly") is None  # cleared once it worked


def _half_past_a_minute() -> Clock:
    return Clock(datetime.now(UTC).replace(second=30, microsecond=0))


@pytest.mark.slow
def test_catch_up_all_with_overlap_skip_runs_missed_fires_one_after_another_in_order(ws):
    clock = _half_past_a_minute()
    Schedule.create(
        "minutely",
        f"{PIPELINES}:sleepy",
        every="1m",
        params={"seconds": 0.4},
        catch_up="all",
        overlap="skip",
        workspace=ws,
        now=(clock() - timedelta(minutes=4)).timestamp(),
    )  # 3 missed fires and 1 on time
    Daemon(ws, now=clock).run_once()
    rows = sorted(ws.history.list_runs(), key=lambda r: r["id"])  # the id says the fire time
    assert len(rows) == 4 and {r["status"] for r in rows} == {Status.COMPLETED}
    by_start = sorted(rows, key=lambda r: r["started_at"])
    assert [r["id"] for r in by_start] == [r["id"] for r in rows]  # in fire-time order
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert later["started_at"] >= earlier["finished_at"]  # one at a time


@pytest.mark.slow
def test_overlap_allow_still_runs_caught_up_fires_together(ws):
    clock = _half_past_a_minute()
    Schedule.create(
        "minutely",
        f"{PIPELINES}:sleepy",
        every="1m",
        params={"seconds": 2},
        catch_up="all",
        overlap="allow",
        workspace=ws,
        now=(clock() - timedelta(minutes=2)).timestamp(),
    )  # 1 missed fire and 1 on time
    Daemon(ws, now=clock).run_once()
    rows = ws.history.list_runs()
    assert len(rows) == 2
    first, second = sorted(rows, key=lambda r: r["started_at"])
    assert second["started_at"] < first["finished_at"]  # "allow" means at the same time


@pytest.mark.slow
def test_a_trigger_says_changes_wait_only_when_files_changed_during_its_run(tmp_path, caplog):
    from .faults.support import PIPELINES as FAULT_PIPELINES
    from .faults.support import ledger, wait_for

    ws, inbox, book, gate = (tmp_path / n for n in ("ws", "in", "ledger.jsonl", "gate"))
    inbox.mkdir()
    Schedule.create(
        "inbox",
        f"{FAULT_PIPELINES}:on_files",
        on_change=str(inbox),
        settle="0.1s",
        params={"ledger": str(book), "gate": str(gate)},
        workspace=ws,
    )
    daemon = Daemon(Workspace(ws), tick=0.1)

    def drive() -> None:
        try:
            (inbox / "a.csv").write_text("a")  # a run that ends at once: nothing to say
            wait_for(lambda: len(ledger(book)) == 1, 60)
            time.sleep(1.0)
            gate.write_text("closed")  # the next run waits at the gate...
            (inbox / "b.csv").write_text("b")
            wait_for(
                lambda: any(
                    r["status"] == Status.RUNNING for r in Workspace(ws).history.list_runs()
                ),
                60,
            )
            (inbox / "c.csv").write_text("c")  # ...while another file arrives
            time.sleep(1.5)
            gate.unlink()
            wait_for(lambda: len(ledger(book)) == 3, 60)
        finally:
            daemon.stop()

    helper = threading.Thread(target=drive)
    with caplog.at_level(logging.INFO, logger="headrace.scheduler"):
        helper.start()
        daemon.serve()
        helper.join()
    said = [r.getMessage() for r in caplog.records if "changes wait" in r.getMessage()]
    assert len(said) == 1, said  # once, for the file that came during the held run
    assert sorted(e["name"] for e in ledger(book)) == ["a.csv", "b.csv", "c.csv"]
