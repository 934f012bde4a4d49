"""submit(): outputs, metrics, concurrency, failures, skips, retries, timeouts, history."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from headrace.engine import (
    HeadraceError,
    ParameterError,
    PipelineRun,
    StepFailedError,
    component,
    get_run_context,
    pipeline,
)
from headrace.engine.errors import RunExistsError
from tests.engine import dags
from tests.engine.dags import chain, diamond, failing_branch, fan_out_two, files_and_arrow


def test_chain_runs_and_records_outputs_and_metrics(ws) -> None:
    run = chain.submit(params={"n": "4", "factor": 3}, workspace=ws)
    assert run.status == "Completed"
    assert run.params == {"n": 4, "factor": 3.0}
    assert run.outputs["total"].load() == 18.0
    steps = run.steps
    assert list(steps) == ["make_numbers", "scale", "total"]
    assert all(s.status == "Completed" and not s.reused and s.attempts == 1 for s in steps.values())
    assert steps["scale"].metrics == {"rows": 4}
    table = steps["scale"].outputs["output"]
    assert Path(table.path).suffix == ".parquet" and Path(table.path).exists()
    pd.testing.assert_frame_equal(table.load(), pd.DataFrame({"x": [0.0, 3.0, 6.0, 9.0]}))
    assert steps["total"].started_at >= steps["scale"].finished_at
    again = PipelineRun(ws, run.id[:-2])
    assert again.to_dict()["steps"]["total"]["outputs"]["output"]["kind"] == "parameter"


def test_independent_steps_overlap(ws) -> None:
    dags.barrier = dags.new_barrier()
    run = fan_out_two.submit(workspace=ws, max_workers=2)
    assert run.status == "Completed", run.steps
    a, b = run.steps["meet"], run.steps["meet_2"]
    assert a.started_at < b.finished_at and b.started_at < a.finished_at


def test_single_worker_serializes(ws) -> None:
    dags.barrier = threading.Barrier(2, timeout=0.5)
    run = fan_out_two.submit(workspace=ws, max_workers=1)
    assert run.status == "Failed"
    assert "BrokenBarrierError" in (run.steps["meet"].error or "")


def test_failure_skips_everything_not_started_by_default(ws) -> None:
    run = failing_branch.submit(workspace=ws)
    assert run.status == "Failed"
    s = run.steps
    assert s["boom"].status == "Failed"
    assert s["boom"].error == "ValueError: bad value 3"
    assert 'raise ValueError(f"bad value {x}")' in s["boom"].traceback
    assert "worker.py" not in s["boom"].traceback
    assert s["add"].status == "Skipped" and s["add_2"].status == "Skipped"
    # slow_ok was already running when boom failed: it finishes; its dependants do not start.
    assert s["slow_ok"].status == "Completed"
    assert s["independent"].status == "Skipped"
    with pytest.raises(
        StepFailedError, match=r"step 'boom' \(component 'boom'\) failed: ValueError: bad value 3"
    ):
        run.raise_for_status()


def test_continue_on_step_failure_finishes_independent_branches(ws) -> None:
    run = failing_branch.submit(workspace=ws, continue_on_step_failure=True)
    assert run.status == "Failed"
    s = run.steps
    assert s["add"].status == "Skipped"  # needs boom's output
    assert s["add_2"].status == "Skipped"  # ordered after boom
    assert s["independent"].status == "Completed"
    assert run.outputs["independent"].load() == pytest.approx(3.3)


attempts: list[int] = []


@component(retries=2)
def flaky(fail_times: int = 2) -> int:
    attempts.append(1)
    if len(attempts) <= fail_times:
        raise RuntimeError(f"attempt {len(attempts)} failed")
    return len(attempts)


@pipeline
def retrying(fail_times: int = 2):
    return {"n": flaky(fail_times=fail_times)}


def test_retries(ws) -> None:
    attempts.clear()
    run = retrying.submit(workspace=ws)
    assert run.status == "Completed" and run.steps["flaky"].attempts == 3
    assert run.outputs["n"].load() == 3
    attempts.clear()
    run = retrying.submit(params={"fail_times": 5}, workspace=ws)
    assert run.status == "Failed" and run.steps["flaky"].attempts == 3
    assert run.steps["flaky"].error == "RuntimeError: attempt 3 failed"


@component(timeout=0.3)
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def timed(seconds: float = 2.0):
    return {"s": sleepy(seconds=seconds)}


def test_timeout_fails_the_step(ws) -> None:
    t0 = time.time()
    run = timed.submit(workspace=ws)
    assert time.time() - t0 < 1.5
    assert run.status == "Failed"
    assert run.steps["sleepy"].error == "TimeoutError: the step ran longer than its timeout of 0.3s"
    assert timed.submit(params={"seconds": 0.01}, workspace=ws).status == "Completed"


def test_folders_ints_and_arrow_tables(ws) -> None:
    run = files_and_arrow.submit(params={"files": 4}, workspace=ws)
    assert run.status == "Completed", run.steps["count_files"].error
    assert run.outputs["count"].load() == 4
    listing = run.outputs["listing"].load()
    assert isinstance(listing, pa.Table) and listing.column("name").to_pylist()[0] == "f0.txt"
    folder = run.steps["write_folder"].outputs["output"].path
    assert sorted(p.name for p in Path(folder).iterdir()) == [
        "f0.txt",
        "f1.txt",
        "f2.txt",
        "f3.txt",
    ]


@component
def wrong_return(x: int) -> tuple[pd.DataFrame, int]:
    return x  # type: ignore[return-value]


@component
def wrong_type(x: int) -> pd.DataFrame:
    return x  # type: ignore[return-value]


@pipeline
def bad_returns():
    wrong_return(x=1)
    wrong_type(x=2)


def test_bad_return_values_fail_with_clear_errors(ws) -> None:
    run = bad_returns.submit(workspace=ws, continue_on_step_failure=True)
    assert (
        "declares 2 outputs (output_0, output_1) but returned int"
        in run.steps["wrong_return"].error
    )
    assert (
        "component 'wrong_type', output 'output': expected a pandas.DataFrame or pyarrow.Table, got int"
        in run.steps["wrong_type"].error
    )
    leftovers = [p for p in ws.store.staging.glob("*/*") if p.parent.name != "out"]
    assert leftovers == [], "staging folders must be cleaned up"


def test_parameters_are_validated_before_anything_runs(ws) -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'nn'"):
        chain.submit(params={"nn": 3}, workspace=ws)
    assert ws.history.list_runs() == []


def test_history_lists_newest_first_and_run_ids_are_unique(ws) -> None:
    first = chain.submit(workspace=ws)
    second = diamond.submit(workspace=ws, experiment="exp")
    rows = ws.history.list_runs()
    assert [r["id"] for r in rows] == [second.id, first.id]
    assert rows[0]["experiment"] == "exp" and rows[1]["experiment"] == "chain"
    assert second.outputs["sum"].load() == pytest.approx(30.0)
    with pytest.raises(RunExistsError, match="already exists"):
        chain.submit(workspace=ws, run_id=first.id)
    with pytest.raises(HeadraceError, match="no run has the id 'nope'"):
        PipelineRun(ws, "nope")


def test_default_workspace_comes_from_headrace_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "custom"))
    run = chain.submit()
    assert run.workspace.root == tmp_path / "custom"
    assert (tmp_path / "custom" / "headrace.db").exists()


def test_process_pool_executor(ws) -> None:
    run = diamond.submit(workspace=ws, executor="local-processes", max_workers=2)
    assert run.status == "Completed"
    assert run.outputs["sum"].load() == pytest.approx(30.0)


def test_unknown_executor(ws) -> None:
    with pytest.raises(HeadraceError, match="unknown executor 'lokal'. Did you mean 'local'"):
        chain.submit(workspace=ws, executor="lokal")


def test_run_context_offline_and_in_run(ws) -> None:
    ctx = get_run_context()
    assert ctx.run_id == "offline" and not ctx.in_run
    ctx.log("m", 1)  # harmless outside a run
    assert ctx.output_dir.is_dir()
    with pytest.raises(HeadraceError, match=r"metric values must be numbers"):
        ctx.log("m", object())

    @component
    def who() -> str:
        c = get_run_context()
        for i in range(3):
            c.log("loss", 1 / (i + 1))
        c.log("tags", [1, 2])
        return f"{c.run_id}/{c.step_name}"

    @pipeline
    def p():
        return {"who": who()}

    run = p.submit(workspace=ws)
    assert run.outputs["who"].load() == f"{run.id}/who"
    assert run.steps["who"].metrics == {"loss": [1.0, 0.5, pytest.approx(1 / 3)], "tags": [1, 2]}
