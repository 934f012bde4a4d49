"""The parallel-run step on the other executors: local processes and a real Dask LocalCluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.engine import Workspace, parallel_run, pipeline
from headrace.engine.execution.executors import make_executor
from tests.engine.parallel.pipelines import ENTRIES, calls, write_files

pids = parallel_run(entry=ENTRIES / "pids.py", name="pids", mini_batch_size=2)


@pipeline(name="pids")
def by_pid(folder: Path, counter: str):
    return {"results": pids(data=folder, counter=counter).outputs.results}


def _inits(counter: Path) -> list[str]:
    return [p.name.split("-")[1] for p in counter.glob("init-*")]


def _init_parents(counter: Path) -> list[str]:
    return [p.name.split("-")[2] for p in counter.glob("init-*")]


@pytest.mark.slow
def test_dask_workers_score_mini_batches_with_init_once_per_worker(
    ws: Workspace, tmp_path: Path, dask_client
) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    names = [f"f{i:02d}" for i in range(16)]
    write_files(folder, names)
    params = {"folder": str(folder), "counter": str(counter)}
    executor = make_executor("dask", client=dask_client)
    run = by_pid.submit(params=params, workspace=ws, executor=executor).raise_for_status()
    results = run.outputs["results"].load()
    assert results["file"].tolist() == names
    worker_pids = {str(p) for p in dask_client.run(lambda: __import__("os").getpid()).values()}
    inits, parents = _inits(counter), _init_parents(counter)
    assert len(inits) == len(set(inits))  # one init() per worker process
    assert len(parents) == len(set(parents)) and set(parents) <= worker_pids  # one per Dask worker
    assert {str(p) for p in results["pid"]} <= set(inits)
    assert len(calls(counter)) == 8
    assert {b["worker"].rsplit(":", 1)[-1] for b in run.steps["pids"].batches} <= set(inits)
    # results were committed to the shared store: two new files score only their batch
    write_files(folder, ["g00", "g01"])
    again = by_pid.submit(params=params, workspace=ws, executor=executor).raise_for_status()
    assert again.steps["pids"].metrics["mini_batches_reused"] == 8
    assert len(again.outputs["results"].load()) == 18
    assert len(calls(counter)) == 9


@pytest.mark.slow
def test_local_processes_executor(ws: Workspace, tmp_path: Path) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    write_files(folder, ["a", "b", "c"])
    run = by_pid.submit(
        params={"folder": str(folder), "counter": str(counter)},
        workspace=ws,
        executor="local-processes",
    )
    assert run.raise_for_status().outputs["results"].load()["file"].tolist() == ["a", "b", "c"]


@pytest.mark.slow
def test_dask_sessions_keep_their_own_module_globals_and_environment(
    ws: Workspace, tmp_path: Path, dask_client
) -> None:
    """Two steps with one module entry share the Dask worker processes: each scores with its
    own init(), and environment_variables= reach only the step that sets them."""
    champion = parallel_run(
        entry="tests.engine.parallel.modglobal_entry",
        name="champion",
        mini_batch_size=1,
        environment_variables={"R12_MODE": "fast"},
    )
    challenger = parallel_run(
        entry="tests.engine.parallel.modglobal_entry", name="challenger", mini_batch_size=1
    )

    @pipeline(name="two-sessions")
    def both(folder: Path):
        return {
            "champion": champion(data=folder, scale=1).outputs.results,
            "challenger": challenger(data=folder, scale=1000).outputs.results,
        }

    names = [f"f{i:02d}" for i in range(16)]
    write_files(tmp_path / "in", names)
    executor = make_executor("dask", client=dask_client)
    run = both.submit(params={"folder": str(tmp_path / "in")}, workspace=ws, executor=executor)
    run.raise_for_status()
    champ, chall = run.outputs["champion"].load(), run.outputs["challenger"].load()
    assert champ["scaled"].tolist() == list(range(16))
    assert chall["scaled"].tolist() == [1000 * i for i in range(16)]
    assert set(champ["mode"]) == {"fast"} and set(chall["mode"]) == {"default"}
    assert set(dask_client.run(lambda: __import__("os").environ.get("R12_MODE")).values()) == {None}


@pytest.mark.slow
def test_dask_keeps_to_max_concurrency(ws: Workspace, tmp_path: Path, dask_client) -> None:
    import json

    one = parallel_run(entry=ENTRIES / "spans.py", name="one", mini_batch_size=1, max_concurrency=1)

    @pipeline(name="one-at-a-time")
    def pipe(folder: Path, spans: str):
        return {"results": one(data=folder, spans=spans).outputs.results}

    write_files(tmp_path / "in", [f"f{i}" for i in range(6)])
    params = {"folder": str(tmp_path / "in"), "spans": str(tmp_path / "spans")}
    executor = make_executor("dask", client=dask_client)
    pipe.submit(params=params, workspace=ws, executor=executor).raise_for_status()
    spans = sorted(json.loads(p.read_text()) for p in (tmp_path / "spans").glob("*.json"))
    assert len(spans) == 6
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


behave = parallel_run(
    entry=ENTRIES / "behave.py",
    name="behave",
    mini_batch_size=1,
    run_max_try=2,
    run_invocation_timeout=3,
)


@pipeline(name="dask-faults")
def faults(folder: Path, counter: str):
    return {"results": behave(data=folder, counter=counter).outputs.results}


@pytest.mark.slow
def test_dask_a_mini_batch_that_exits_or_hangs_costs_an_attempt_not_the_dask_worker(
    ws: Workspace, tmp_path: Path, dask_client
) -> None:
    """os._exit in run() and a run() past run_invocation_timeout kill only the worker process
    scoring for the Dask worker: each counts its attempts, the others are scored, and the
    Dask workers (one of which runs the step itself) live on."""
    folder, counter = tmp_path / "in", tmp_path / "counter"
    names = [f"ok_{i:02d}" for i in range(8)] + ["exit_00", "sleep_00"]
    write_files(folder, names)
    before = dask_client.run(lambda: __import__("os").getpid())
    executor = make_executor("dask", client=dask_client)
    params = {"folder": str(folder), "counter": str(counter)}
    run = faults.submit(params=params, workspace=ws, executor=executor).raise_for_status()
    results = run.outputs["results"].load()
    assert results["file"].tolist() == [n for n in sorted(names) if n.startswith("ok_")]
    batches = run.steps["behave"].batches
    failed = {sorted(names)[b["id"]]: b for b in batches if b["status"] == "Failed"}
    assert set(failed) == {"exit_00", "sleep_00"}
    assert failed["exit_00"]["attempts"] == 2 and "WorkerDied" in failed["exit_00"]["error"]
    assert "exited (exit code 7)" in failed["exit_00"]["error"]
    assert failed["sleep_00"]["attempts"] == 2
    assert "took longer than run_invocation_timeout=3s" in failed["sleep_00"]["error"]
    assert dask_client.run(lambda: __import__("os").getpid()) == before  # no Dask worker died
    assert run.steps["behave"].metrics["mini_batches_failed"] == 2
