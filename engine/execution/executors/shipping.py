"""Shipping step tasks to other processes by value (cloudpickle), so path-loaded code runs there.

Each payload also carries the overlay of the modules edited since their import
(``fingerprint/overlay.py``): the receiver installs it before it unpickles the task, so every
import there, direct or not, runs the code the cache key describes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import pickle
import sys
import types
from typing import Any

from ...fingerprint import overlay
from ...fingerprint.source import drifted_modules
from ..eager import EagerPlan, run_eager
from ..task import StepResult, StepTask
from ..worker import execute
from .origins import Origins, collect, restore


def _importable(module_name: str) -> bool:
    if module_name == "__main__" or module_name.startswith("headrace_user_"):
        return False
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


_DRIFTED_BY_VALUE: set[str] = set()


def _ship_drifted_by_value(
    cloudpickle: Any, shipped: overlay.Overlay, unknown: list[types.ModuleType]
) -> None:
    """Ship the modules edited since their import whose loaded source is not known (so not
    in the overlay ``shipped``) by value, and those reloaded since by reference again."""
    served = {s.name for s in shipped.modules}
    found = [*drifted_modules(), *unknown]
    drifted = {m.__name__: m for m in found if m.__name__ not in served}
    for name in _DRIFTED_BY_VALUE - drifted.keys():
        _DRIFTED_BY_VALUE.discard(name)
        with contextlib.suppress(ValueError):
            cloudpickle.unregister_pickle_by_value(types.ModuleType(name))  # by name
    for name, module in drifted.items():
        if name not in _DRIFTED_BY_VALUE and _importable(name):
            _DRIFTED_BY_VALUE.add(name)
            cloudpickle.register_pickle_by_value(module)


def dumps(task: StepTask, plan: EagerPlan | None = None) -> bytes:
    """Pickle a task (and its eager plan) with cloudpickle, by value for modules the receiver
    cannot import, with the overlay of the modules edited since their import."""
    import cloudpickle

    module = sys.modules.get(task.component.fn.__module__)
    if module is not None and not _importable(module.__name__):
        cloudpickle.register_pickle_by_value(module)
    shipped, unknown = overlay.capture()
    _ship_drifted_by_value(cloudpickle, shipped, unknown)
    # A component's function is shipped by value even from an importable module (the module
    # attribute is the Component, not the function), and by-value code loses its file names.
    origins = collect(task.component.fn)
    return pickle.dumps((shipped, cloudpickle.dumps((task, plan, origins))))


def loads(payload: bytes) -> tuple[StepTask, Any]:
    """Unpickle what :func:`dumps` made: install its overlay, then unpickle the task (its
    code's file names restored) and plan."""
    import cloudpickle

    shipped, inner = pickle.loads(payload)
    overlay.install(shipped)
    task, plan, origins = cloudpickle.loads(inner)
    if isinstance(origins, Origins):
        restore(task.component.fn, origins)
    return task, plan


def run_pickled(payload: bytes) -> StepResult:
    """Worker entry point: unpickle a task and execute it."""
    task, _ = loads(payload)
    return execute(task)


def run_pickled_eager(payload: bytes, *results: StepResult) -> StepResult:
    """Worker entry point for a step sent ahead: unpickle it, decide, reuse or execute."""
    task, plan = loads(payload)
    return run_eager(task, plan, *results)
