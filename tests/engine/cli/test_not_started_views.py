"""The views of a run that never started (the scheduler records one, with no steps, when its
pipeline file does not load) say so, and ``runs list --json`` holds objects, not JSON text."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from headrace.engine import Workspace
from headrace.engine.cli import app

WHY = "did not start: its pipeline file failed to load (SyntaxError: invalid syntax)"


def _not_started(root: Path) -> str:
    with Workspace(root) as ws:
        run = {"id": "sched-s-1", "pipeline": "p", "status": "Failed", "params": {"a": "1"}}
        ws.history.create_run({**run, "created_at": 0.0, "source": "pipe.py:p"}, [])
        ws.history.update_run("sched-s-1", finished_at=0.0, error=WHY)
    return "sched-s-1"


def _cli(*args: str, root: Path) -> str:
    result = CliRunner().invoke(app, [*args, "--workspace", str(root)])
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_and_logs_of_a_run_that_never_started_say_why(tmp_path: Path) -> None:
    run_id = _not_started(tmp_path / "ws")
    assert (
        _cli("runs", "explain", run_id, root=tmp_path / "ws")
        == f"run {run_id} ran no step: {WHY}\n"
    )
    assert (
        _cli("runs", "logs", run_id, root=tmp_path / "ws") == f"run {run_id} ran no step: {WHY}\n"
    )


def test_runs_list_json_gives_outputs_as_an_object(tmp_path: Path) -> None:
    _not_started(tmp_path / "ws")
    (row,) = json.loads(_cli("runs", "list", "--json", root=tmp_path / "ws"))
    assert row["outputs"] == {} and row["params"] == {"a": "1"}
