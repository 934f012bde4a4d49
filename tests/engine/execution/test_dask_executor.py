"""executor="dask" on a real LocalCluster: code shipped by value, store checks, own cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.engine import Workspace, component, pipeline
from headrace.engine.definitions.loader import load_pipeline
from headrace.engine.execution.executors import make_executor
from headrace.engine.execution.executors.dask import StoreUnreachableError
from tests.engine.dags import chain, diamond

pytestmark = pytest.mark.slow
FILES = Path(__file__).parents[1] / "cli_files"


def test_components_from_a_file_loaded_by_path(ws, dask_client) -> None:
    squares = load_pipeline(f"{FILES / 'one.py'}:squares")
    executor = make_executor("dask", client=dask_client)
    run = squares.submit(params={"x": 4}, workspace=ws, executor=executor)
    assert run.status == "Completed", {s.name: s.error for s in run.steps.values()}
    assert run.outputs["result"].load() == 16
    assert run.steps["square"].metrics == {"x": 4}
    failed = squares.submit(params={"x": 20}, workspace=ws, executor=executor)
    assert failed.steps["fail_if"].error == "RuntimeError: value 400 is over the limit 100"


def test_components_defined_inside_a_function(ws, dask_client) -> None:
    offset = 7

    @component
    def shifted(x: int) -> int:
        return x + offset

    @pipeline
    def local_pipe(x: int = 1):
        return {"y": shifted(x=shifted(x=x))}

    run = local_pipe.submit(
        params={"x": 1}, workspace=ws, executor=make_executor("dask", client=dask_client)
    )
    assert run.status == "Completed" and run.outputs["y"].load() == 15


def test_steps_run_in_worker_processes(ws, dask_client) -> None:
    import os

    @component
    def pid() -> int:
        return os.getpid()

    @pipeline
    def pids():
        return {"a": pid(), "b": pid()}

    run = pids.submit(workspace=ws, executor=make_executor("dask", client=dask_client))
    workers = set(dask_client.run(os.getpid).values())
    assert {run.outputs["a"].load(), run.outputs["b"].load()} <= workers
    assert os.getpid() not in workers


def test_a_store_the_workers_cannot_see_fails_before_running(tmp_path, dask_client) -> None:
    ws = Workspace(tmp_path / "ws", artifact_root="memory://headrace-test-store")
    executor = make_executor("dask", client=dask_client)
    with pytest.raises(
        StoreUnreachableError,
        match=r"cannot see the workspace's artifact store memory://headrace-test-store .*artifact_root='s3://",
    ):
        diamond.submit(workspace=ws, executor=executor)
    (row,) = ws.history.list_runs()
    assert row["status"] == "Failed"
    assert "cannot see the workspace's artifact store" in row["error"]
    assert all(s["status"] != "Completed" for s in ws.history.get_steps(row["id"]))


def test_starts_and_closes_its_own_local_cluster(ws) -> None:
    executor = make_executor("dask")
    run = diamond.submit(params={"n": 2}, workspace=ws, executor=executor)
    assert run.status == "Completed" and run.outputs["sum"].load() == pytest.approx(5.0)
    assert executor._cluster is None and executor._own_client is None


def test_a_chain_is_sent_ahead_and_runs_without_round_trips(ws, dask_client) -> None:
    from headrace.engine.execution.executors.dask import DaskExecutor

    class Counting(DaskExecutor):
        """Counts how steps reach the cluster."""

        def __init__(self, client):
            super().__init__(client=client)
            self.calls = {"submit": 0, "submit_eager": 0}

        def submit(self, task, upstream):
            self.calls["submit"] += 1
            return super().submit(task, upstream)

        def submit_eager(self, task, plan, after, upstream):
            self.calls["submit_eager"] += 1
            return super().submit_eager(task, plan, after, upstream)

    executor = Counting(dask_client)
    run = chain.submit(params={"n": 3}, workspace=ws, executor=executor)
    assert run.status == "Completed" and run.outputs["total"].load() == 6.0
    assert executor.calls == {"submit": 1, "submit_eager": 2}
    cached = Counting(dask_client)
    again = chain.submit(params={"n": 3}, workspace=ws, executor=cached)
    assert all(s.reused for s in again.steps.values())
    assert cached.calls == {"submit": 0, "submit_eager": 0}  # decided here: nothing sent
