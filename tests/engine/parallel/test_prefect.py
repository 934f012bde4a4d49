"""The parallel-run step on the prefect executor (a real server): a task run with a progress
artifact that reaches 100, and the per-mini-batch table as a table artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headrace.engine import Workspace, parallel_run, pipeline
from tests.engine.execution.test_prefect_executor import _flow_run
from tests.engine.parallel.pipelines import ENTRIES, write_files

pytestmark = pytest.mark.slow

step = parallel_run(
    entry=ENTRIES / "behave.py", name="behave", mini_batch_size=2, max_concurrency=2
)


@pipeline(name="prefect-behave")
def behaving(folder: Path, counter: str):
    return {"results": step(data=folder, counter=counter).outputs.results}


def test_prefect_task_run_carries_progress_and_the_mini_batch_table(
    ws: Workspace, tmp_path: Path, prefect_server, monkeypatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_server.url)
    write_files(tmp_path / "in", ["a", "b", "c", "d", "e"])
    params = {"folder": str(tmp_path / "in"), "counter": str(tmp_path / "c")}
    run = behaving.submit(params=params, workspace=ws, executor="prefect").raise_for_status()
    assert run.outputs["results"].load()["file"].tolist() == ["a", "b", "c", "d", "e"]
    got = _flow_run(prefect_server, run.id, 1)
    assert got["tasks"]["behave"]["type"] == "COMPLETED"
    arts = {a.key: a for a in got["artifacts"]}
    assert arts["behave-progress"].type == "progress"
    assert float(arts["behave-progress"].data) == 100.0
    table = arts["behave-mini-batches"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [r["id"] for r in rows] == [0, 1, 2] and [r["items"] for r in rows] == [2, 2, 1]
