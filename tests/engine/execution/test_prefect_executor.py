"""executor="prefect" against a real Prefect server, checked through Prefect's client API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from headrace.engine import Workspace
from headrace.engine.execution.executors import make_executor
from headrace.engine.execution.executors.prefect.executor import PrefectExecutor
from headrace.engine.execution.executors.prefect.server import ServerInfo
from tests.engine.dags import chain, diamond, failing_branch
from tests.prefect_fixture import prefect_client_env, workspace_of

pytestmark = pytest.mark.slow


def test_executor_modules_import_neither_prefect_nor_dask() -> None:
    code = (
        "import json, sys; from headrace.engine.execution.executors import make_executor; "
        "import headrace.engine.execution.executors.prefect.executor, headrace.engine.execution.executors.dask; "
        "import headrace.engine.cli.ui; make_executor('prefect'); make_executor('dask'); "
        "print(json.dumps([m for m in ('prefect', 'dask', 'distributed') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_unknown_task_runner() -> None:
    with pytest.raises(Exception, match="unknown Prefect task runner 'thread'. Did you mean"):
        make_executor("prefect", task_runner="thread")


def _flow_run(server: ServerInfo, run_id: str, expect_tasks: int) -> dict[str, Any]:
    """Read back the flow run of headrace run ``run_id``: its state, task runs and artifacts."""
    with prefect_client_env(server):
        return _read_flow_run(run_id, expect_tasks)


def _read_flow_run(run_id: str, expect_tasks: int) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    with get_client(sync_client=True) as c:
        deadline = time.time() + 15
        while True:  # task runs are recorded from events, a moment after the run
            flows = c.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=run_id))
            )
            trs = []
            if flows:
                trs = c.read_task_runs(
                    task_run_filter=TaskRunFilter(
                        flow_run_id=TaskRunFilterFlowRunId(any_=[flows[0].id])
                    )
                )
            final = [t for t in trs if t.state is not None and t.state.is_final()]
            if len(final) >= expect_tasks or time.time() > deadline:
                break
            time.sleep(0.3)
        assert len(flows) == 1, f"no single flow run named like {run_id}: {flows}"
        fr = flows[0]
        arts = c.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[fr.id]))
        )
    names = {t.id: t.name for t in trs}
    tasks = {
        t.name: {
            "type": t.state_type.value if t.state_type else None,
            "state": t.state_name,
            "message": t.state.message if t.state else None,
            "upstream": sorted(names[i.id] for i in t.task_inputs.get("wait_for", [])),
            "tags": t.tags,
        }
        for t in trs
    }
    return {"flow": fr, "tasks": tasks, "artifacts": arts, "task_names": names}


@pytest.fixture
def prefect_env(prefect_server, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", prefect_server.url)
    return prefect_server


def test_run_is_a_flow_run_with_one_task_run_per_step(ws, prefect_env) -> None:
    run = diamond.submit(params={"n": 3}, workspace=ws, executor="prefect")
    assert run.status == "Completed"
    got = _flow_run(prefect_env, run.id, 6)
    fr = got["flow"]
    assert fr.name == f"diamond-{run.id}"
    assert fr.parameters == {"n": 3}
    assert fr.state_type.value == "COMPLETED"
    assert set(fr.tags) >= {"headrace", "pipeline:diamond", f"headrace-run:{run.id}"}
    tasks = got["tasks"]
    assert set(tasks) == {"make_numbers", "scale", "total", "scale_2", "total_2", "add"}
    assert all(t["type"] == "COMPLETED" for t in tasks.values())
    # tags stay on the flow run: a tagged task run costs a concurrency-slot request each
    assert all(t["tags"] == [] for t in tasks.values())
    assert tasks["make_numbers"]["upstream"] == []
    assert tasks["scale"]["upstream"] == ["make_numbers"]
    assert tasks["total_2"]["upstream"] == ["scale_2"]
    assert tasks["add"]["upstream"] == ["total", "total_2"]
    arts = {a.key: a for a in got["artifacts"]}
    metrics = arts["diamond-scale-metrics"]
    assert metrics.type == "table" and got["task_names"][metrics.task_run_id] == "scale"
    table = metrics.data if isinstance(metrics.data, list) else json.loads(metrics.data)
    assert table == [{"metric": "rows", "value": 3}]
    summary = arts["diamond-run-summary"]
    assert summary.type == "markdown" and summary.task_run_id is None
    assert run.id in summary.data and "| add | Completed | 1 |" in summary.data


def test_failed_run_is_a_failed_flow_run_with_skipped_steps(ws, prefect_env) -> None:
    run = failing_branch.submit(params={"seconds": 0.2}, workspace=ws, executor="prefect")
    assert run.status == "Failed"
    got = _flow_run(prefect_env, run.id, 5)
    fr = got["flow"]
    assert fr.state_type.value == "FAILED"
    assert fr.state.message == "1 step(s) failed: boom"
    tasks = got["tasks"]
    assert tasks["boom"]["type"] == "FAILED"
    assert tasks["boom"]["message"].endswith("failed: ValueError: bad value 3")
    assert tasks["slow_ok"]["type"] == "COMPLETED"
    for skipped in ("add", "add_2", "independent"):
        assert tasks[skipped]["type"] == "CANCELLED" and tasks[skipped]["state"] == "Skipped"
    assert tasks["add"]["upstream"] == ["boom"]
    assert tasks["add"]["message"] == "not run: upstream step boom failed"


def test_second_run_shows_reused_steps(ws, prefect_env) -> None:
    first = chain.submit(workspace=ws, executor="prefect")
    second = chain.submit(workspace=ws, executor="prefect")
    assert second.status == "Completed"
    got = _flow_run(prefect_env, second.id, 3)
    tasks = got["tasks"]
    assert set(tasks) == {"make_numbers", "scale", "total"}
    assert tasks["total"]["upstream"] == ["scale"]
    for name, step in second.steps.items():
        if step.reused:  # once the engine's step reuse is in place
            assert tasks[name]["type"] == "COMPLETED" and tasks[name]["state"] == "Reused"
            assert tasks[name]["message"] == f"outputs of {name} reused from run {first.id}"
        else:
            assert tasks[name]["state"] == "Completed"


def test_uses_the_workspaces_recorded_server_without_prefect_api_url(
    prefect_server, monkeypatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    executor = PrefectExecutor()
    with Workspace(workspace_of(prefect_server)) as ws:
        run = chain.submit(workspace=ws, executor=executor)
    assert run.status == "Completed"
    assert executor.api_url == prefect_server.url
    assert _flow_run(prefect_server, run.id, 3)["flow"].state_type.value == "COMPLETED"


def test_dask_task_runner(ws, prefect_env) -> None:
    executor = make_executor("prefect", task_runner="dask")
    run = diamond.submit(params={"n": 2}, workspace=ws, executor=executor)
    assert run.status == "Completed" and run.outputs["sum"].load() == pytest.approx(5.0)
    got = _flow_run(prefect_env, run.id, 6)
    assert got["tasks"]["add"]["upstream"] == ["total", "total_2"]
    assert {a.key for a in got["artifacts"]} >= {"diamond-scale-metrics", "diamond-run-summary"}


def test_headrace_ui_finds_the_running_server_and_stop_without_one(
    prefect_server, tmp_path
) -> None:
    from typer.testing import CliRunner

    from headrace.engine.cli import app

    runner = CliRunner()
    ws = str(workspace_of(prefect_server))
    shown = runner.invoke(app, ["ui", "-w", ws, "--port", str(prefect_server.port)])
    assert shown.exit_code == 0, shown.output
    assert f"Prefect UI: {prefect_server.ui_url}" in shown.output
    stopped = runner.invoke(app, ["ui", "--stop", "-w", str(tmp_path / "empty")])
    assert stopped.exit_code == 0 and "no Prefect server was running" in stopped.output


def test_the_cli_keeps_prefects_info_lines_out_of_the_terminal(prefect_env, tmp_path) -> None:
    """README: -v shows Prefect's and Dask's INFO lines; without it they go to the UI only."""
    import os

    pipe = "tests/engine/dags.py:chain"
    base = [sys.executable, "-m", "headrace.engine.cli", "run", pipe, "--executor", "prefect"]
    env = {**os.environ, "PREFECT_API_URL": prefect_env.url}
    quiet = subprocess.run(
        [*base, "-w", str(tmp_path / "a")], capture_output=True, text=True, env=env
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "| INFO" not in quiet.stderr + quiet.stdout
    loud = subprocess.run(
        [*base, "-v", "-w", str(tmp_path / "b")], capture_output=True, text=True, env=env
    )
    assert loud.returncode == 0, loud.stderr
    assert "| INFO" in loud.stderr + loud.stdout
