"""execute(), one step attempt where it runs: outputs stored, user errors reported, metrics kept."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd

from headrace.engine import Workspace, component
from headrace.engine.definitions.component import Component
from headrace.engine.execution.task import InputSpec, StepTask
from headrace.engine.execution.worker import execute
from tests.engine import dags
from tests.engine.dags import boom, scale, total


def _task(ws: Workspace, comp: Component, attempt: int = 1, **inputs: Any) -> StepTask:
    """A task for ``comp``: DataFrames go through the store as upstream artifacts."""
    specs = []
    for port in comp.inputs:
        value = inputs[port.name]
        if isinstance(value, pd.DataFrame):
            rec = ws.store.write(value, "table", pd.DataFrame)
            specs.append(InputSpec(port.name, port.annotation, record=rec))
        else:
            specs.append(InputSpec(port.name, port.annotation, value=value))
    return StepTask("run-1", comp.name, comp, tuple(specs), ws.store.spec(), attempt)


def test_a_step_loads_its_inputs_and_stores_its_output(ws: Workspace) -> None:
    df = pd.DataFrame({"x": [1, 2, 3]})
    result = execute(_task(ws, total, attempt=2, df=df))
    assert result.ok and (result.step, result.attempt) == ("total", 2)
    assert result.error == "" and result.started_at <= result.finished_at
    ((name, rec),) = result.outputs
    assert name == "output" and ws.store.exists(rec) and ws.store.load(rec) == 6.0


def test_metrics_logged_in_the_step_come_back_with_the_result(ws: Workspace) -> None:
    df = pd.DataFrame({"x": [1, 2]})
    result = execute(_task(ws, scale, df=df, factor=3.0))
    assert result.ok
    ((name, value, at),) = result.metrics
    assert (name, value) == ("rows", 2) and result.started_at <= at <= result.finished_at
    pd.testing.assert_frame_equal(ws.store.load(dict(result.outputs)["output"]), df * 3.0)


def test_a_user_exception_is_reported_with_a_traceback_starting_in_user_code(
    ws: Workspace,
) -> None:
    result = execute(_task(ws, boom, x=3))
    assert not result.ok and result.outputs == ()
    assert (result.error_type, result.error) == ("ValueError", "bad value 3")
    frames = [line for line in result.traceback.splitlines() if line.lstrip().startswith("File ")]
    assert frames and dags.__file__ in frames[0] and "in boom" in frames[0]
    assert "worker.py" not in result.traceback
    assert result.traceback.rstrip().endswith("ValueError: bad value 3")


@component
def logs_then_fails(n: int = 1) -> int:
    from headrace.engine import get_run_context

    get_run_context().log("seen", n)
    raise RuntimeError("after logging")


def test_metrics_logged_before_a_failure_are_kept(ws: Workspace) -> None:
    result = execute(_task(ws, logs_then_fails, n=4))
    assert not result.ok and result.error == "after logging"
    assert [(m, v) for m, v, _ in result.metrics] == [("seen", 4)]


@component
def pair() -> tuple[Annotated[int, "left"], Annotated[int, "right"]]:
    return 1  # type: ignore[return-value]


def test_outputs_that_do_not_match_the_declaration_are_an_error_naming_the_component(
    ws: Workspace,
) -> None:
    result = execute(_task(ws, pair))
    assert not result.ok and result.error_type == "ArtifactError"
    assert "component 'pair' declares 2 outputs (left, right)" in result.error
