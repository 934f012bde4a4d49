"""Shipping step tasks to other processes by value (cloudpickle), so path-loaded code runs there."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from ..eager import EagerPlan, run_eager
from ..worker import StepResult, StepTask, execute


def _importable(module_name: str) -> bool:
    if module_name == "__main__" or module_name.startswith("headrace_user_"):
        return False
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


def dumps(task: StepTask, plan: EagerPlan | None = None) -> bytes:
    """Pickle a task (and its eager plan) with cloudpickle, by value for modules the receiver
    cannot import."""
    import cloudpickle

    module = sys.modules.get(task.component.fn.__module__)
    if module is not None and not _importable(module.__name__):
        cloudpickle.register_pickle_by_value(module)
    return cloudpickle.dumps(task if plan is None else (task, plan))


def run_pickled(payload: bytes) -> StepResult:
    """Worker entry point: unpickle a task and execute it."""
    import cloudpickle

    task: Any = cloudpickle.loads(payload)
    return execute(task)


def run_pickled_eager(payload: bytes, *results: StepResult) -> StepResult:
    """Worker entry point for a step sent ahead: unpickle it, decide, reuse or execute."""
    import cloudpickle

    task, plan = cloudpickle.loads(payload)
    return run_eager(task, plan, *results)
