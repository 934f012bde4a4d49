"""Executing one step attempt: load inputs, call the user's function, store outputs, report back.

Everything here runs wherever the executor puts it (a thread, a process, a Dask worker).
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from ..store.artifacts import ArtifactRecord, ArtifactStore
from .context import RunContext, activate, deactivate
from .task import InputSpec, StepResult, StepTask

if TYPE_CHECKING:
    from ..definitions.component import Component

_stores: dict[str, ArtifactStore] = {}
_stores_lock = threading.Lock()


def open_store(spec: dict[str, Any]) -> ArtifactStore:
    """The store described by ``spec``, opened once per process."""
    key = repr(sorted((k, repr(v)) for k, v in spec.items()))
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = ArtifactStore(**spec)
        return store


def execute(task: StepTask) -> StepResult:
    """Run one step attempt; never raises for user-code or artifact problems (they are reported)."""
    store = open_store(task.store)
    ctx = RunContext(run_id=task.run_id, step_name=task.step, _output_parent=store.staging / "out")
    started = time.time()
    token = activate(ctx)
    try:
        kwargs = {i.name: _load(store, i) for i in task.inputs}
        returned = task.component.fn(**kwargs)
        outputs = _store_outputs(task.component, returned, store, ctx)
    except Exception as exc:  # user code or its outputs
        return StepResult(
            task.step,
            task.attempt,
            False,
            started,
            time.time(),
            metrics=tuple(ctx.metrics),
            error_type=type(exc).__name__,
            error=str(exc),
            traceback=_user_traceback(exc),
        )
    finally:
        deactivate(token)
        if ctx._output_dir is not None:
            import shutil

            shutil.rmtree(ctx._output_dir, ignore_errors=True)
    return StepResult(
        task.step, task.attempt, True, started, time.time(), outputs, tuple(ctx.metrics)
    )


def _load(store: ArtifactStore, spec: InputSpec) -> Any:
    if spec.record is None:
        return spec.value
    return store.load(spec.record, spec.annotation)


def _store_outputs(
    comp: Component, returned: Any, store: ArtifactStore, ctx: RunContext
) -> tuple[tuple[str, ArtifactRecord], ...]:
    ports = comp.outputs
    if not ports:
        return ()
    if len(ports) == 1:
        values: tuple[Any, ...] = (returned,)
    else:
        if not isinstance(returned, tuple) or len(returned) != len(ports):
            got = (
                f"a tuple of {len(returned)}"
                if isinstance(returned, tuple)
                else type(returned).__name__
            )
            raise ArtifactError(
                f"component {comp.name!r} declares {len(ports)} outputs "
                f"({', '.join(p.name for p in ports)}) but returned {got}; return a tuple in that order"
            )
        values = returned
    movable = ctx._output_dir if isinstance(ctx._output_dir, Path) else None
    out = []
    for port, value in zip(ports, values, strict=True):
        try:
            out.append((port.name, store.write(value, port.kind, port.annotation, movable)))
        except ArtifactError as exc:
            raise ArtifactError(f"component {comp.name!r}, output {port.name!r}: {exc}") from exc
    return tuple(out)


def _user_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    # Drop this module's frames so the traceback starts in the user's code.
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
