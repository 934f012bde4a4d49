"""One behaviour suite over every executor: outputs, metrics, parameters, failures, retries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from headrace.engine import component, pipeline
from tests.engine.dags import chain, diamond, failing_branch
from tests.engine.executor_fixtures import EXECUTORS, every_executor  # noqa: F401


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


@component
def counted(x: int, counter: str) -> int:
    """Adds one; counts its own runs with files (which input each run saw is the file name)."""
    folder = Path(counter)
    folder.mkdir(exist_ok=True)
    (folder / f"run{len(list(folder.iterdir())) + 1}-saw{x}").touch()
    return x + 1


@pipeline
def retrying(counter: str, downstream: str = "", fail_times: int = 2):
    n = flaky(counter=counter, fail_times=fail_times)
    return {"n": n, "m": counted(x=n, counter=downstream)}


@component
def parity(n: int) -> int:
    return n % 2


@pipeline
def early_cutoff(n: int = 2, counter: str = ""):
    """The second step's input stays the same when ``n`` changes parity-preserving."""
    return {"m": counted(x=parity(n=n), counter=counter)}


@component
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@component(timeout=1.5)
def quick(x: float) -> float:
    return x * 2


@component(timeout=0.5)
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def too_slow(seconds: float = 2.0):
    """A step that outlives its timeout, and one that would run after it."""
    return {"y": quick(x=sleepy(seconds=seconds))}


@pipeline
def slow_then_quick(seconds: float = 2.0):
    """A step whose timeout is shorter than its upstream's run time."""
    return {"y": quick(x=nap(seconds=seconds))}


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
    params = {"counter": str(tmp_path / "ok"), "downstream": str(tmp_path / "ok-downstream")}
    run = retrying.submit(params=params, workspace=ws, executor=make_exec())
    assert run.status == "Completed" and run.steps["flaky"].attempts == 3
    assert run.outputs["n"].load() == 3 and run.outputs["m"].load() == 4
    # the downstream step ran once, on the successful attempt's output
    assert [p.name for p in (tmp_path / "ok-downstream").iterdir()] == ["run1-saw3"]
    params = {"counter": str(tmp_path / "bad"), "fail_times": 5, "downstream": str(tmp_path / "x")}
    run = retrying.submit(params=params, workspace=ws, executor=make_exec())
    assert run.status == "Failed" and run.steps["flaky"].attempts == 3
    assert run.steps["flaky"].error == "RuntimeError: attempt 3 failed"
    assert run.steps["counted"].status == "Skipped"
    assert not (tmp_path / "x").exists()


@every_executor
def test_reuse_reasons_and_regenerate(ws, make_exec) -> None:
    first = chain.submit(params={"n": 4, "factor": 3}, workspace=ws, executor=make_exec())
    again = chain.submit(params={"n": 4, "factor": 3}, workspace=ws, executor=make_exec())
    assert again.status == "Completed"
    assert all(s.reused and s.reused_from == first.id for s in again.steps.values())
    assert again.outputs["total"].load() == 18.0
    assert again.steps["scale"].metrics == {"rows": 4}  # a reused step shows the original's
    changed = chain.submit(params={"n": 4, "factor": 5}, workspace=ws, executor=make_exec())
    s = changed.steps
    assert s["make_numbers"].reused and not s["scale"].reused and not s["total"].reused
    assert s["scale"].reason == "parameter factor changed 3.0 → 5.0"
    assert s["total"].reason == "upstream output changed"
    assert changed.outputs["total"].load() == 30.0
    forced = chain.submit(
        params={"n": 4, "factor": 5}, workspace=ws, executor=make_exec(), regenerate_outputs=True
    )
    assert not any(s.reused for s in forced.steps.values())
    assert {s.reason for s in forced.steps.values()} == {"forced (regenerate_outputs)"}


@every_executor
def test_early_cutoff_reuses_downstream_of_a_rerun_step(ws, make_exec, tmp_path) -> None:
    counter = str(tmp_path / "runs")
    first = early_cutoff.submit(
        params={"n": 2, "counter": counter}, workspace=ws, executor=make_exec()
    )
    second = early_cutoff.submit(
        params={"n": 4, "counter": counter}, workspace=ws, executor=make_exec()
    )
    assert second.status == "Completed"
    assert not second.steps["parity"].reused
    assert second.steps["counted"].reused and second.steps["counted"].reused_from == first.id
    assert second.outputs["m"].load() == 1
    assert [p.name for p in Path(counter).iterdir()] == ["run1-saw0"]  # it ran once


@every_executor
def test_timeout_counts_from_when_the_step_starts(ws, make_exec) -> None:
    run = slow_then_quick.submit(workspace=ws, executor=make_exec())
    assert run.status == "Completed", {s.name: s.error for s in run.steps.values()}
    assert run.outputs["y"].load() == 4.0


@every_executor
def test_a_step_past_its_timeout_fails_the_run(ws, make_exec) -> None:
    run = too_slow.submit(workspace=ws, executor=make_exec())
    assert run.status == "Failed"
    assert run.steps["sleepy"].error == "TimeoutError: the step ran longer than its timeout of 0.5s"
    assert run.steps["quick"].status == "Skipped"
