"""The step-run columns history records when a step is reused or an attempt ends (pure)."""

from __future__ import annotations

from typing import Any

from ..status import Status
from .reuse import Decision
from .task import StepResult


def reused_fields(d: Decision, now: float) -> dict[str, Any]:
    """The columns of a step served from the cache entry ``d`` found, at ``now``."""
    return {
        "status": Status.COMPLETED.value,
        "reused": 1,
        "reused_from": d.reused_from,
        "reason": d.reason,
        "started_at": now,
        "finished_at": now,
        "duration": 0.0,
        "attempts": 0,
        "cache_key": d.key,
        "code_fp": d.ingredients.code,
        "inputs": d.ingredients.to_json(),
    }


def finished_fields(
    d: Decision, status: Status, attempt: int, started_at: float, result: StepResult
) -> dict[str, Any]:
    """The columns of a step whose attempt ``attempt`` (the step began at ``started_at``)
    ended with ``result``, decided by ``d``."""
    fields: dict[str, Any] = {
        "status": status.value,
        "attempts": attempt,
        "started_at": started_at,
        "finished_at": result.finished_at,
        "duration": result.finished_at - result.started_at,
        "reason": d.reason,
        "cache_key": d.key,
        "code_fp": d.ingredients.code,
        "inputs": d.ingredients.to_json(),
    }
    if not result.ok:
        fields["error"] = f"{result.error_type}: {result.error}"
        fields["traceback"] = result.traceback
    return fields


def changed_while_running(ports: list[str]) -> str:
    """Why a step's result is not cached: its path inputs ``ports`` changed while it ran."""
    names = ", ".join(repr(p) for p in ports)
    what = f"input {names}" if len(ports) == 1 else f"inputs {names}"
    return f"{what} changed while the step ran, so its result may mix old and new content"
