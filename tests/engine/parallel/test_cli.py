"""``headrace runs batches RUN STEP``, through the real command (in this process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from headrace.engine import Workspace, parallel_run, pipeline
from tests.engine.parallel.pipelines import ENTRIES, write_files

step = parallel_run(
    entry=ENTRIES / "behave.py", name="behave", mini_batch_size=2, run_max_try=1, max_concurrency=1
)


@pipeline(name="cli-behave")
def behaving(folder: Path, counter: str):
    return {"results": step(data=folder, counter=counter).outputs.results}


def headrace(*args: str, ws: Path) -> Any:
    from headrace.engine.cli import app

    return CliRunner().invoke(app, [*args, "--workspace", str(ws)])


def test_runs_batches_prints_every_mini_batch(tmp_path: Path) -> None:
    write_files(tmp_path / "in", ["a_ok", "b_ok", "raise_c", "raise_d", "z_ok"])
    ws = Workspace(tmp_path / "ws")
    run = behaving.submit(
        params={"folder": str(tmp_path / "in"), "counter": str(tmp_path / "c")}, workspace=ws
    )
    ws.close()
    assert run.status == "Completed"
    table = headrace("runs", "batches", run.id, "behave", ws=tmp_path / "ws")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert "id" in lines[0] and "attempts" in lines[0] and "worker" in lines[0]
    assert any("Failed" in line and "ValueError: cannot score raise_c" in line for line in lines)
    assert "3 mini-batches, 1 failed, 0 reused" in table.stdout
    rows = json.loads(
        headrace("runs", "batches", run.id, "behave", "--json", ws=tmp_path / "ws").stdout
    )
    assert [r["status"] for r in rows] == ["Completed", "Failed", "Completed"]
    assert rows[1]["items"] == 2 and rows[1]["attempts"] == 1
    only = json.loads(
        headrace(
            "runs", "batches", run.id[:12], "behave", "--failed", "--json", ws=tmp_path / "ws"
        ).stdout
    )
    assert [r["id"] for r in only] == [1]
    missing = headrace("runs", "batches", run.id, "behav", ws=tmp_path / "ws")
    assert (
        missing.exit_code == 2 and "has no step 'behav'. Did you mean 'behave'?" in missing.output
    )


def test_failed_lists_failed_and_short_mini_batches_not_unstarted_ones() -> None:
    from headrace.engine.cli.batches import _failed

    rows = [
        {"status": "Completed", "items_failed": 0},
        {"status": "Completed", "items_failed": 2},  # run() gave no result for 2 items
        {"status": "Failed", "items_failed": 5},
        {"status": "NotStarted", "items_failed": 0},  # the step failed before it started
    ]
    assert [_failed(r) for r in rows] == [False, True, True, False]
