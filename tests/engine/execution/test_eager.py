"""run_eager, the worker side of a step sent ahead: not run, served from the cache, or executed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.engine.execution.eager import NOT_RUN, REUSED_FROM, SOURCE_STEP, EagerPlan, run_eager
from headrace.engine.execution.inputs import ingredients
from headrace.engine.execution.task import InputSpec, StepResult, StepTask
from headrace.engine.store.artifacts import ArtifactRecord
from headrace.engine.store.cache_index import Hit
from tests.engine.dags import diamond

ADD = diamond.definition.steps["add"]  # add(a=total, b=total_2), both still in flight
AFTER = ("total", "total_2")
PENDING = (("a", "total", "output"), ("b", "total_2", "output"))


def _task(ws: Workspace) -> StepTask:
    """The runner's task for ``add`` sent ahead: both inputs left for the worker to fill."""
    inputs = tuple(InputSpec(p.name, p.annotation) for p in ADD.component.inputs)
    return StepTask("run-1", "add", ADD.component, inputs, ws.store.spec(), 1)


def _plan(candidates: dict[str, Hit] | None) -> EagerPlan:
    values = diamond.definition.bind_params({})
    ingr = ingredients(ADD, values, {}, None, ahead=True)
    return EagerPlan(ingr, PENDING, AFTER, candidates, ("output",))


def _upstream(ws: Workspace, a: float, b: float) -> tuple[StepResult, StepResult]:
    return (
        StepResult("total", 1, True, 0.0, 1.0, (("output", ws.store.write(a, "parameter")),)),
        StepResult("total_2", 1, True, 0.0, 1.0, (("output", ws.store.write(b, "parameter")),)),
    )


def _key(results: tuple[StepResult, ...]) -> str:
    """The cache key the worker completes from the upstream results."""
    ingr = _plan(None).ingredients
    fed = {
        port: r.outputs[0][1].fingerprint for (port, _, _), r in zip(PENDING, results, strict=True)
    }
    key = replace(ingr, upstream={**ingr.upstream, **fed}).key
    assert key is not None
    return key


def test_a_failed_upstream_attempt_means_not_run(ws: Workspace) -> None:
    ok, _ = _upstream(ws, 2.0, 3.0)
    failed = StepResult("total_2", 1, False, 0.0, 1.0, error_type="ValueError", error="bad")
    result = run_eager(_task(ws), _plan(None), ok, failed)
    assert not result.ok and result.extra == {NOT_RUN: True}
    assert result.error_type == "UpstreamFailed"
    assert result.error == "not run: the upstream attempt of total_2 failed"


def test_a_cache_entry_with_every_output_present_is_served(ws: Workspace) -> None:
    results = _upstream(ws, 2.0, 3.0)
    cached = (("output", ws.store.write(5.0, "parameter")),)
    plan = _plan({_key(results): Hit("run-0", "add", cached)})
    result = run_eager(_task(ws), plan, *results)
    assert result.ok and result.outputs == cached and result.metrics == ()
    assert result.extra == {REUSED_FROM: "run-0", SOURCE_STEP: "add"}


def _gone(ws: Workspace) -> tuple[tuple[str, ArtifactRecord], ...]:
    rec = ws.store.write([99.0] * 300, "parameter")  # past INLINE_MAX: stored as a file
    Path(rec.uri).unlink()
    return (("output", rec),)


@pytest.mark.parametrize(
    "outputs",
    [_gone, lambda ws: ()],
    ids=["output-missing-from-the-store", "entry-without-the-output"],
)
def test_an_entry_without_all_its_outputs_means_the_step_executes(ws: Workspace, outputs) -> None:
    results = _upstream(ws, 2.0, 3.0)
    plan = _plan({_key(results): Hit("run-0", "add", outputs(ws))})
    result = run_eager(_task(ws), plan, *results)
    assert result.ok and result.extra == {}
    assert ws.store.load(dict(result.outputs)["output"]) == 5.0  # add ran on the fed inputs


def test_no_candidates_or_another_key_means_the_step_executes(ws: Workspace) -> None:
    results = _upstream(ws, 2.0, 3.0)
    cached = (("output", ws.store.write(5.0, "parameter")),)
    for plan in (_plan(None), _plan({"another-key": Hit("run-0", "add", cached)})):
        result = run_eager(_task(ws), plan, *results)
        assert result.ok and REUSED_FROM not in result.extra
        assert ws.store.load(dict(result.outputs)["output"]) == 5.0
