"""Eager submission: a step sent to the executor before its upstream steps have finished.

A distributed executor pays a client round trip per step when each step is sent only once its
upstream results are back (result to the runner, next step out). Eager submission sends a step
as soon as every upstream step is in flight, with their attempts as dependencies, the way plain
Dask submits a whole graph. The step's reuse decision then happens where it runs: the runner
ships the cache key's ingredients it already knows, the upstream outputs it still waits for,
and its snapshot of the step's cache entries; :func:`run_eager` completes the key from the
upstream results, serves a hit from the cache, and otherwise executes the step.

The runner stays in charge: it adopts an eager attempt only once the attempts it was built on
have succeeded, and drops it (and everything built on it) when one of them fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .task import StepResult, StepTask
from .worker import execute, open_store

if TYPE_CHECKING:
    from ..store.cache_index import Hit
    from .reuse import Ingredients

NOT_RUN = "not_run"
REUSED_FROM = "reused_from"
SOURCE_STEP = "source_step"


@dataclass(frozen=True)
class EagerPlan:
    """What a step sent ahead needs to decide and run once its upstream results arrive.

    Attributes:
        ingredients: the cache key's ingredients, without the outputs of ``after`` steps.
        pending: (input name, upstream step, output name) filled from the upstream results.
        after: the in-flight upstream steps, in the order their results are passed.
        candidates: cache key → hit for this step (the runner's snapshot); None: always run
            (regenerate_outputs, reuse disabled, or nothing cached for the step).
        outputs: the step's output names (a hit must provide all of them).
    """

    ingredients: Ingredients
    pending: tuple[tuple[str, str, str], ...]
    after: tuple[str, ...]
    candidates: dict[str, Hit] | None
    outputs: tuple[str, ...]


def run_eager(task: StepTask, plan: EagerPlan, *results: StepResult) -> StepResult:
    """Worker side: decide with the upstream results, then reuse or execute the step.

    Args:
        task: the attempt, with the inputs fed by ``plan.after`` steps still unresolved.
        plan: see :class:`EagerPlan`.
        results: the upstream attempts' results, in ``plan.after`` order.

    Returns:
        The step's result; ``extra`` holds ``reused_from``/``source_step`` when served from the
        cache, or ``not_run`` when an upstream attempt failed (the runner discards it).
    """
    by_step = dict(zip(plan.after, results, strict=True))
    failed = [s for s, r in by_step.items() if not r.ok]
    if failed:
        why = f"not run: the upstream attempt of {', '.join(failed)} failed"
        return StepResult.not_run(task, "UpstreamFailed", why, **{NOT_RUN: True})
    produced = {s: dict(r.outputs) for s, r in by_step.items()}
    fed = {port: produced[s][out] for port, s, out in plan.pending}
    ingr = plan.ingredients
    ingr = replace(ingr, upstream={**ingr.upstream, **{p: r.fingerprint for p, r in fed.items()}})
    hit = _hit(task, plan, ingr.key)
    if hit is not None:
        run_id, source_step, outputs = hit
        now = time.time()
        extra = {REUSED_FROM: run_id, SOURCE_STEP: source_step}
        return StepResult(task.step, task.attempt, True, now, now, outputs, extra=extra)
    inputs = tuple(replace(i, record=fed[i.name]) if i.name in fed else i for i in task.inputs)
    return execute(replace(task, inputs=inputs))


def _hit(task: StepTask, plan: EagerPlan, key: str | None) -> Hit | None:
    """The cache entry for ``key`` when every output it names is still in the store."""
    if plan.candidates is None or key is None or key not in plan.candidates:
        return None
    hit = plan.candidates[key]
    outputs = hit.outputs
    if {name for name, _ in outputs} != set(plan.outputs):
        return None
    store = open_store(task.store)
    for _, rec in outputs:  # before looking: gc keeps what a run leased (store/leases.py)
        store.lease(task.run_id, rec)
    return hit if all(store.exists(rec) for _, rec in outputs) else None
