"""The scheduler uses the engine through its public seams: one error root, classifier, parser, console."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headrace.engine import Status, Workspace
from headrace.engine.cli import console
from headrace.engine.errors import HeadraceError, ParameterError
from headrace.engine.store.durations import parse_duration, seconds
from headrace.engine.store.gc import parse_age
from headrace.engine.store.processes import pid_alive
from headrace.engine.types import PATH, PATHS, kind_of
from headrace.scheduler import Cron, Daemon, Schedule, ScheduleError, parse_every
from headrace.scheduler import cli as scheduler_cli
from headrace.scheduler.runs import Runs
from headrace.scheduler.source import parse_duration as trigger_duration
from headrace.scheduler.store import DONE, RUNNING, Firing, ScheduleRow, SchedulerStore

from .conftest import PIPELINES, FakeLauncher

SCHEDULER = Path(__file__).parents[2] / "scheduler"
ENGINE_TABLES = ("runs", "step_runs", "metrics", "artifacts", "step_outputs", "cache")

FILE_PIPELINES = """
from collections.abc import Sequence
from pathlib import Path

from headrace.engine import component, pipeline


@component(allow_reuse=False)
def count(files: {annotation}) -> int:
    return len(files)


@pipeline
def on_files(files: {annotation}):
    return {{"n": count(files=files)}}
"""
ANNOTATIONS = {
    "Sequence[Path]": Sequence[Path],
    "list[Path]": list[Path],
    "tuple[Path, ...]": tuple[Path, ...],
}


# --- one error root -----------------------------------------------------------------------
def test_schedule_error_is_a_headrace_error_and_a_value_error():
    with pytest.raises(ScheduleError) as caught:
        Cron("not a cron")
    assert isinstance(caught.value, HeadraceError)
    assert isinstance(caught.value, ValueError)


# --- one annotation classifier ------------------------------------------------------------
def _fire_once(ws: Workspace, inbox: Path, names: list[str]) -> Firing:
    launcher = FakeLauncher()
    d = Daemon(ws, launcher=launcher)
    d.step()
    for name in names:
        (inbox / name).write_text(name)
    d.watches["t"].dirty.set()
    deadline = time.monotonic() + 5
    while not launcher.started and time.monotonic() < deadline:
        time.sleep(0.05)
        d.step()
    d.shutdown()
    assert launcher.started, "the trigger did not fire"
    return launcher.started[0]


@pytest.mark.parametrize("written", list(ANNOTATIONS))
def test_data_parameter_gets_the_files_as_the_engine_classifies_its_type(tmp_path, ws, written):
    """Sequence[Path], list[Path], tuple[Path, ...]: whatever kind_of says, the trigger follows."""
    module = tmp_path / "file_pipelines.py"
    module.write_text(FILE_PIPELINES.format(annotation=written))
    inbox = tmp_path / "in"
    inbox.mkdir()
    kind = kind_of(ANNOTATIONS[written])
    create = dict(on_change=str(inbox), settle="0.05s", data_path_param="files", workspace=ws)
    if kind not in (PATH, PATHS):
        with pytest.raises(
            ParameterError, match="'files' of pipeline 'on_files' must be annotated"
        ):
            Schedule.create("t", f"{module}:on_files", **create)
        return
    Schedule.create("t", f"{module}:on_files", **create)
    names = ["a.csv", "b.csv"]
    firing = _fire_once(ws, inbox, names)
    from headrace.engine.definitions.loader import load_pipeline

    bound = load_pipeline(f"{module}:on_files").definition.bind_params(firing.params)
    if kind == PATHS:  # every changed file, in order
        assert bound["files"] == [inbox / n for n in names]
    else:  # several files changed: the folder
        assert bound["files"] == inbox


# --- one duration parser ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secs"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("1w", 604800)]
)
def test_every_older_than_and_poll_read_durations_alike(text, secs):
    assert parse_age(text) == trigger_duration(text, "--poll") == seconds(text) == secs
    recurrence = parse_every(text)
    assert parse_duration(text).unit[0] == recurrence.frequency[0].lower()
    assert recurrence.interval * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[text[-1]] == secs


def test_duration_spellings_and_errors():
    assert seconds(" 3 Days ") == 3 * 86400 and seconds("250ms") == 0.25 and seconds(2) == 2.0
    assert seconds("30", default_unit="s") == 30.0
    assert parse_every("1mo").frequency == "Month"
    with pytest.raises(ValueError, match="no fixed length"):
        seconds("1mo")
    with pytest.raises(ValueError, match="not like 30d"):
        parse_age("1mo")
    for bad in ("soon", "", "-1s", "5x"):
        with pytest.raises(ValueError, match="is not a duration"):
            seconds(bad)
    with pytest.raises(HeadraceError, match="--settle 'soon' is not a duration"):
        trigger_duration("soon", "--settle")


# --- one pid-alive check, run state read through History ----------------------------------
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="zombies are seen through /proc")
def test_pid_alive_sees_a_zombie_as_dead():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while pid_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # ended but not reaped: a zombie
    try:
        assert not pid_alive(proc.pid)
        assert pid_alive(os.getpid())
    finally:
        proc.wait()


def _record_run(ws: Workspace, run_id: str, status: Status, pid: int | None) -> None:
    run = {"id": run_id, "pipeline": "p", "status": status, "params": {}, "created_at": 0.0}
    ws.history.create_run({**run, "pid": pid}, [])


def test_a_run_an_earlier_daemon_started_is_done_once_its_process_died(ws):
    Schedule.create("s", f"{PIPELINES}:sleepy", every="1d", workspace=ws)
    store = SchedulerStore(ws.history)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    firings = {
        "sched-s-live": (Status.RUNNING, os.getpid()),
        "sched-s-dead": (Status.RUNNING, dead.pid),
        "sched-s-over": (Status.COMPLETED, os.getpid()),
        "sched-s-unrecorded": None,
    }
    for run_id, run in firings.items():
        store.insert_firings([Firing(run_id, "s", 0.0, "schedule", RUNNING, {})], 0.0)
        if run is not None:
            _record_run(ws, run_id, *run)
    assert ws.history.run_status("sched-s-over") is Status.COMPLETED
    assert ws.history.run_status("sched-s-unrecorded") is None
    Runs(ws, store, FakeLauncher()).reap()
    states = {f.run_id: f.state for f in store.firings([RUNNING, DONE])}
    assert states == {
        "sched-s-live": RUNNING,
        "sched-s-dead": DONE,
        "sched-s-over": DONE,
        "sched-s-unrecorded": RUNNING,
    }
    assert store.last_firing("s") is not None


def test_schedule_rows_are_frozen_records(ws):
    Schedule.create("s", f"{PIPELINES}:sleepy", every="1d", workspace=ws, now=10.0)
    (row,) = SchedulerStore(ws.history).schedules()
    assert isinstance(row, ScheduleRow) and row.cursor_time == 10.0 and row.enabled is True
    with pytest.raises(AttributeError):
        row.cursor_time = 11.0  # type: ignore[misc]


# --- one console --------------------------------------------------------------------------
def test_scheduler_cli_uses_the_engine_console_and_its_escaping_fail(tmp_path):
    assert scheduler_cli.out is console.out and scheduler_cli.fail is console.fail
    done = CliRunner().invoke(
        scheduler_cli.schedule_app,
        [
            "create",
            "w",
            "--pipeline",
            f"{PIPELINES}:sleepy",
            "--every",
            "1w",
            "--week-days",
            "Mondy",
            "-w",
            str(tmp_path / "ws"),
        ],
    )
    assert done.exit_code == 2
    # brackets printed, not read as markup; the flag named, not the field
    assert "--week-days ['Mondy'] is invalid" in done.stderr


# --- guards over the scheduler's source ---------------------------------------------------
def _string_constants() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SCHEDULER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((path.name, node.lineno, node.value))
    return found


def test_the_scheduler_never_names_the_engines_tables_in_sql():
    touching = re.compile(
        rf"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+({'|'.join(ENGINE_TABLES)})\b", re.IGNORECASE
    )
    assert [(f, line) for f, line, text in _string_constants() if touching.search(text)] == []


def test_the_scheduler_spells_no_status_as_a_string_literal():
    statuses = {s.value for s in Status}
    assert [(f, line, t) for f, line, t in _string_constants() if t in statuses] == []
