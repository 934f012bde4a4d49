"""One behaviour suite over every executor: outputs, metrics, parameters, failures, retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.engine import component, pipeline

from .dags import chain, diamond, failing_branch

EXECUTORS = [
    "local",
    pytest.param("local-processes", marks=pytest.mark.slow),
    pytest.param("dask", marks=pytest.mark.slow),
    pytest.param("prefect", marks=pytest.mark.slow),
]
every_executor = pytest.mark.parametrize("make_exec", EXECUTORS, indirect=True)


@component(retries=2)
def flaky(counter: str, fail_times: int = 2) -> int:
    """Fails ``fail_times`` times; counts attempts with files so it works across processes."""
    folder = Path(counter)
    folder.mkdir(exist_ok=True)
    n = len(list(folder.iterdir())) + 1
    (folder / str(n)).touch()
    if n <= fail_times:
        raise RuntimeError(f"attempt {n} failed")
    return n


@pipeline
def retrying(counter: str, fail_times: int = 2):
    return {"n": flaky(counter=counter, fail_times=fail_times)}


@every_executor
def test_outputs_metrics_and_parameters(ws, make_exec) -> None:
    run = chain.submit(params={"n": "4", "factor": 3}, workspace=ws, executor=make_exec())
    assert run.status == "Completed"
    assert run.params == {"n": 4, "factor": 3.0}
    assert run.outputs["total"].load() == 18.0
    assert run.steps["scale"].metrics == {"rows": 4}
    assert all(s.status == "Completed" and s.attempts == 1 for s in run.steps.values())


@every_executor
def test_independent_branches_join(ws, make_exec) -> None:
    run = diamond.submit(params={"n": 3}, workspace=ws, executor=make_exec(max_workers=2))
    assert run.status == "Completed"
    assert run.outputs["sum"].load() == pytest.approx(15.0)


@every_executor
def test_failure_skips_downstream_and_fails_the_run(ws, make_exec) -> None:
    run = failing_branch.submit(params={"seconds": 0.2}, workspace=ws, executor=make_exec())
    assert run.status == "Failed"
    s = run.steps
    assert s["boom"].status == "Failed" and s["boom"].error == "ValueError: bad value 3"
    assert 'raise ValueError(f"bad value {x}")' in (s["boom"].traceback or "")
    assert s["add"].status == "Skipped" and s["add_2"].status == "Skipped"
    assert s["independent"].status == "Skipped"


@every_executor
def test_continue_on_step_failure(ws, make_exec) -> None:
    run = failing_branch.submit(
        params={"seconds": 0.2},
        workspace=ws,
        executor=make_exec(),
        continue_on_step_failure=True,
    )
    assert run.status == "Failed"
    s = run.steps
    assert s["add"].status == "Skipped" and s["add_2"].status == "Skipped"
    assert s["independent"].status == "Completed"
    assert run.outputs["independent"].load() == pytest.approx(3.2)


@every_executor
def test_retries(ws, make_exec, tmp_path) -> None:
    params = {"counter": str(tmp_path / "ok")}
    run = retrying.submit(params=params, workspace=ws, executor=make_exec())
    assert run.status == "Completed" and run.steps["flaky"].attempts == 3
    assert run.outputs["n"].load() == 3
    params = {"counter": str(tmp_path / "bad"), "fail_times": 5}
    run = retrying.submit(params=params, workspace=ws, executor=make_exec())
    assert run.status == "Failed" and run.steps["flaky"].attempts == 3
    assert run.steps["flaky"].error == "RuntimeError: attempt 3 failed"
