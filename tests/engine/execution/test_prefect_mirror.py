"""Runs on every executor mirrored to a real Prefect server, read back through get_client()."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from headrace.engine import Workspace, component, get_run_context, pipeline
from headrace.engine.execution.executors import RunInfo, make_executor, make_observer
from headrace.engine.execution.executors.prefect.server import ServerInfo
from headrace.engine.status import Status
from headrace.scheduler import Schedule
from tests.engine.dags import add, failing_branch, fails_once
from tests.prefect_fixture import prefect_client_env, workspace_of

ROOT = Path(__file__).resolve().parents[3]


@component
def measure(n: int = 3) -> float:
    print(f"measuring n={n}")
    logging.getLogger("measure").warning("a warning record")
    get_run_context().log("score", n * 1.5)
    return n * 1.5


@pipeline(name="mirrored")
def mirrored(n: int = 3):
    score = measure(n=n)
    return {"score": score, "total": add(a=score, b=1.0)}


@pipeline(name="mirrored-retry")
def mirrored_retry(counter: str):
    return {"n": fails_once(counter=counter)}


def _read_back(server: ServerInfo, run_id: str, tasks: int) -> dict[str, Any]:
    """The flow run of headrace run ``run_id``: state, task runs, logs and artifacts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    with prefect_client_env(server), get_client(sync_client=True) as c:
        deadline = time.time() + 20  # a loaded machine may take longer than the run's flush
        while True:
            flows = c.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=run_id))
            )
            trs = []
            if flows:  # the flow run's end may be sent before its last task runs (when behind)
                trs = c.read_task_runs(
                    task_run_filter=TaskRunFilter(
                        flow_run_id=TaskRunFilterFlowRunId(any_=[flows[0].id])
                    )
                )
            final = [t for t in trs if t.state is not None and t.state.is_final()]
            done = flows and flows[0].state is not None and flows[0].state.is_final()
            if (done and len(final) >= tasks) or time.time() > deadline:
                break
            time.sleep(0.3)
        assert len(flows) == 1, f"no single flow run named like {run_id}: {flows}"
        fr = flows[0]
        logs = c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[fr.id])))
        arts = c.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[fr.id]))
        )
    assert len(trs) == tasks, [t.name for t in trs]
    names = {t.id: t.name for t in trs}
    by_task: dict[str, list[tuple[int, str]]] = {}
    for line in sorted(logs, key=lambda r: r.timestamp):
        by_task.setdefault(names.get(line.task_run_id, ""), []).append((line.level, line.message))
    return {
        "flow": fr,
        "tasks": {
            t.name: {
                "type": t.state_type.value if t.state_type else None,
                "state": t.state_name,
                "message": t.state.message if t.state else None,
                "upstream": sorted(names[i.id] for i in t.task_inputs.get("wait_for", [])),
            }
            for t in trs
        },
        "logs": by_task,
        "artifacts": {(a.key, names.get(a.task_run_id)): a for a in arts},
    }


def _table(artifact: Any) -> Any:
    return artifact.data if isinstance(artifact.data, list) else json.loads(artifact.data)


@pytest.fixture
def server(prefect_server: ServerInfo, monkeypatch: pytest.MonkeyPatch) -> ServerInfo:
    monkeypatch.setenv("PREFECT_API_URL", prefect_server.url)
    return prefect_server


def _check_mirrored_run(server: ServerInfo, run_id: str, tags: set[str]) -> dict[str, Any]:
    got = _read_back(server, run_id, 2)
    fr = got["flow"]
    assert fr.name == f"mirrored-{run_id}"
    assert fr.state_type.value == "COMPLETED"
    assert fr.parameters == {"n": 3}
    assert set(fr.tags) == {"headrace", "pipeline:mirrored", f"headrace-run:{run_id}", *tags}
    tasks = got["tasks"]
    assert set(tasks) == {"measure", "add"}
    assert all(t["type"] == "COMPLETED" for t in tasks.values())
    assert tasks["measure"]["upstream"] == [] and tasks["add"]["upstream"] == ["measure"]
    assert got["logs"]["measure"] == [
        (logging.INFO, "measuring n=3"),
        (logging.WARNING, "WARNING measure: a warning record"),
    ]
    metrics = got["artifacts"][("mirrored-measure-metrics", "measure")]
    assert metrics.type == "table" and _table(metrics) == [{"metric": "score", "value": 4.5}]
    summary = got["artifacts"][("mirrored-run-summary", None)]
    assert summary.type == "markdown" and f"run `{run_id}`: **Completed**" in summary.data
    assert "| measure | score | `4.5` |" in summary.data
    assert "| total | parameter | `5.5` |" in summary.data
    return got


@pytest.mark.slow
def test_local_run_is_mirrored_and_a_rerun_shows_reuse(ws, server) -> None:
    first = mirrored.submit(workspace=ws, tags={"schedule": "nightly"})
    assert first.status == "Completed"
    _check_mirrored_run(server, first.id, {"schedule:nightly"})
    second = mirrored.submit(workspace=ws)
    got = _read_back(server, second.id, 2)
    for step in ("measure", "add"):
        task = got["tasks"][step]
        assert (task["type"], task["state"]) == ("COMPLETED", "Cached")
        assert task["message"] == f"reused from run {first.id}"
        assert got["logs"][step] == [
            (logging.INFO, f"outputs of {step} reused from run {first.id}")
        ]
    assert got["tasks"]["add"]["upstream"] == ["measure"]
    metrics = got["artifacts"][("mirrored-measure-metrics", "measure")]  # reused, kept
    assert _table(metrics) == [{"metric": "score", "value": 4.5}]
    assert f"(reused from run {first.id})" in metrics.description
    summary = got["artifacts"][("mirrored-run-summary", None)].data
    assert f"| measure | Completed | 0 | 0.00 s | {first.id} |" in summary
    assert "| measure | score | `4.5` |" in summary


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local-processes", "dask"])
def test_runs_on_other_executors_are_mirrored(ws, server, kind, request) -> None:
    options = {"client": request.getfixturevalue("dask_client")} if kind == "dask" else {}
    run = mirrored.submit(workspace=ws, executor=make_executor(kind, **options))
    assert run.status == "Completed"
    _check_mirrored_run(server, run.id, set())


@pytest.mark.slow
def test_failed_step_is_a_failed_task_run_with_its_traceback(ws, server) -> None:
    run = failing_branch.submit(params={"seconds": 0.2}, workspace=ws)
    assert run.status == "Failed"
    got = _read_back(server, run.id, 5)
    assert got["flow"].state_type.value == "FAILED"
    assert got["flow"].state.message == "1 step(s) failed: boom"
    tasks = got["tasks"]
    assert tasks["boom"]["type"] == "FAILED"
    assert tasks["boom"]["message"] == "boom failed: ValueError: bad value 3"
    (level, failed), (tb_level, traceback) = got["logs"]["boom"]
    assert (level, failed) == (logging.ERROR, "attempt 1 failed: ValueError: bad value 3")
    assert tb_level == logging.ERROR and "raise ValueError" in traceback
    assert tasks["slow_ok"]["type"] == "COMPLETED"
    assert (tasks["add"]["type"], tasks["add"]["state"]) == ("CANCELLED", "Skipped")
    assert tasks["add"]["message"] == "not run: upstream step boom failed"
    assert tasks["add"]["upstream"] == ["boom"]
    assert tasks["add_2"]["upstream"] == ["boom", "slow_ok"]
    summary = got["artifacts"][("failing-branch-run-summary", None)].data
    assert "**Failed**" in summary and "| boom | Failed | 1 |" in summary


@pytest.mark.slow
def test_retried_step_logs_every_attempt_to_the_workspace_server(
    prefect_server, monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # the server `headrace ui` recorded
    ws = Workspace(workspace_of(prefect_server))
    try:
        run = mirrored_retry.submit(params={"counter": str(tmp_path / "count")}, workspace=ws)
    finally:
        ws.close()
    assert run.status == "Completed"
    got = _read_back(prefect_server, run.id, 1)
    assert got["tasks"]["fails_once"]["type"] == "COMPLETED"
    assert got["logs"]["fails_once"] == [
        (logging.INFO, "attempt 1 starting"),
        (logging.ERROR, "attempt 1 failed: ValueError: first attempt fails"),
        (logging.ERROR, got["logs"]["fails_once"][2][1]),  # the traceback
        (logging.INFO, "attempt 2 starting"),
    ]
    assert "first attempt fails" in got["logs"]["fails_once"][2][1]


MIRRORED_FILE = textwrap.dedent(
    """
    import logging

    from headrace.engine import component, get_run_context, pipeline


    @component
    def measure(n: int = 3) -> float:
        print(f"measuring n={n}")
        logging.getLogger("measure").warning("a warning record")
        get_run_context().log("score", n * 1.5)
        return n * 1.5


    @component
    def add(a: float, b: float) -> float:
        return a + b


    @pipeline(name="mirrored")
    def mirrored(n: int = 3):
        score = measure(n=n)
        return {"score": score, "total": add(a=score, b=1.0)}
    """
)
# The real CLI, with the end of a run waiting for the mirror as good as not at all: what the
# run did not send by then is sent while the process exits.
_SHORT_FLUSH = (
    "import sys; from headrace.engine.execution.executors.prefect import mirror; "
    "mirror.FLUSH = 0.01; from headrace.engine.cli import main; "
    "sys.argv = ['headrace', *sys.argv[1:]]; main()"
)


def _cli_env(server: ServerInfo) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": server.url}


@pytest.mark.slow
def test_a_short_cli_run_sends_everything_before_its_process_exits(tmp_path, server) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(MIRRORED_FILE)
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-c", _SHORT_FLUSH, "run", str(flows), "-w", str(ws)]
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, env=_cli_env(server), timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr  # no Prefect worker failing at exit
    assert "can't register atexit" not in done.stderr, done.stderr  # prefect imported in time
    with Workspace(ws) as w:
        (run_id,) = [r["id"] for r in w.history.list_runs()]
    _check_mirrored_run(server, run_id, set())


@pytest.mark.slow
def test_a_daemon_run_is_mirrored_tagged_with_its_schedule(tmp_path, server) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(MIRRORED_FILE)
    ws = tmp_path / "ws"
    Schedule.create("nightly", f"{flows}:mirrored", every="1h", start_time="now", workspace=ws)
    cmd = [sys.executable, "-m", "headrace.engine.cli", "daemon", "--once", "-w", str(ws)]
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, env=_cli_env(server), timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with Workspace(ws) as w:
        (row,) = w.history.list_runs()
    assert row["status"] == "Completed" and row["tags"] == {"schedule": "nightly"}
    _check_mirrored_run(server, row["id"], {"schedule:nightly"})


@pytest.mark.slow
def test_a_firing_that_never_started_is_a_failed_flow_run_with_its_error(tmp_path, server):
    flows = tmp_path / "flows.py"
    flows.write_text(MIRRORED_FILE)
    ws = tmp_path / "ws"
    Schedule.create("nightly", f"{flows}:mirrored", every="1h", start_time="now", workspace=ws)
    flows.write_text(MIRRORED_FILE + "\nraise RuntimeError('half-edited file')\n")
    cmd = [sys.executable, "-m", "headrace.engine.cli", "daemon", "--once", "-w", str(ws)]
    subprocess.run(cmd, capture_output=True, text=True, env=_cli_env(server), timeout=120)
    with Workspace(ws) as w:
        (row,) = w.history.list_runs()
    assert row["status"] == "Failed", row
    got = _read_back(server, row["id"], 0)
    flow = got["flow"]
    assert flow.state_type.value == "FAILED" and "schedule:nightly" in flow.tags
    assert flow.state.message.startswith("did not start: ")
    assert "half-edited file" in flow.state.message
    assert "did not start: " in got["artifacts"][("mirrored-run-summary", None)].data


@pytest.mark.slow
def test_a_step_skipped_before_its_upstream_was_sent_still_links_to_it(ws, server) -> None:
    from headrace.engine.execution.executors.prefect.mirror import Mirror

    upstream = {"a": (), "b": (), "c": ("a", "b")}
    m = Mirror(server.url, RunInfo("r-links", "links", {}, upstream, workspace=ws.root), ws)
    # One batch, as when the thread is behind: a's Running state is superseded by its end,
    # which comes after c was skipped.
    m.event("a", Status.RUNNING, {})
    m.event("b", Status.RUNNING, {})
    m.event("b", Status.FAILED, {"error": "ValueError: no"})
    m.event("c", Status.SKIPPED, {})
    m.event("a", Status.COMPLETED, {"duration": 0.1})
    m.close(Status.FAILED)
    tasks = _read_back(server, "r-links", 3)["tasks"]
    assert tasks["c"]["upstream"] == ["a", "b"]
    assert tasks["c"]["message"] == "not run: upstream step b failed"


@pytest.mark.slow
def test_a_scheduled_run_on_the_prefect_executor_is_tagged_with_its_schedule(ws, server) -> None:
    tags = {"schedule": "nightly"}
    run = mirrored.submit(workspace=ws, executor=make_executor("prefect"), tags=tags)
    assert run.status == "Completed"
    flow = _read_back(server, run.id, 2)["flow"]
    assert {"schedule:nightly", f"headrace-run:{run.id}"} <= set(flow.tags)


def test_prefect_executor_runs_are_not_mirrored_twice(ws) -> None:
    run = RunInfo("r", "p", {}, {}, workspace=ws.root)
    observer = make_observer(make_executor("prefect"), run, ws)
    assert type(observer).__name__ == "_Unobserved"


_NO_SERVER = """
import json, os, socket, sys, time
from headrace.engine import Workspace
from tests.engine.dags import chain

def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

mute = socket.socket()  # accepts connections (the kernel does) but never answers
mute.bind(("127.0.0.1", 0))
mute.listen()
ws = Workspace(sys.argv[1])

def timed(url):
    os.environ.pop("PREFECT_API_URL", None)
    if url:
        os.environ["PREFECT_API_URL"] = url
    start = time.perf_counter()
    run = chain.submit(workspace=ws, regenerate_outputs=True)
    return run.status, time.perf_counter() - start

timed(None)  # warm up
base = min(timed(None)[1] for _ in range(3))
closed = timed(f"http://127.0.0.1:{closed_port()}/api")
hung = timed(f"http://127.0.0.1:{mute.getsockname()[1]}/api")
print(json.dumps({"base": base, "closed": closed, "hung": hung,
                  "prefect": [m for m in sys.modules if m.split(".")[0] == "prefect"]}))
"""


def test_no_server_means_no_mirror_and_no_delay(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _NO_SERVER, str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["prefect"] == []  # no server answered: prefect was never imported
    for status, seconds in (got["closed"], got["hung"]):
        assert status == Status.COMPLETED.value
        assert seconds - got["base"] < 1.0, got
