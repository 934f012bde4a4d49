"""Executing one step attempt: load inputs, call the user's function, store outputs, report back.

Everything here runs wherever the executor puts it (a thread, a process, a Dask worker), so a
:class:`StepTask` and a :class:`StepResult` are plain picklable values and user exceptions
come back as text, never as objects that may fail to unpickle.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .component import Component
from .context import RunContext, activate, deactivate
from .errors import ArtifactError
from .store import ArtifactRecord, ArtifactStore


@dataclass(frozen=True)
class InputSpec:
    """One argument of a step call: a value, or an upstream artifact to load.

    Attributes:
        name: the argument name.
        annotation: the consumer's annotation (decides how an artifact is loaded).
        value: the value, when ``record`` is None.
        record: the upstream artifact to load.
    """

    name: str
    annotation: Any
    value: Any = None
    record: ArtifactRecord | None = None


@dataclass(frozen=True)
class StepTask:
    """Everything needed to run one step attempt anywhere.

    Attributes:
        run_id: the run.
        step: the step name.
        component: the component to call.
        inputs: its arguments.
        store: :meth:`ArtifactStore.spec` of the workspace store.
        attempt: 1 for the first try, 2 for the first retry, ...
    """

    run_id: str
    step: str
    component: Component
    inputs: tuple[InputSpec, ...]
    store: dict[str, Any]
    attempt: int = 1


@dataclass(frozen=True)
class StepResult:
    """What one step attempt produced.

    Attributes:
        step: the step name.
        attempt: the attempt number.
        ok: whether user code returned and every output was stored.
        started_at: unix time the call began.
        finished_at: unix time it ended.
        outputs: (output name, stored artifact) pairs.
        metrics: (name, value, unix time) as logged.
        error_type: the exception class name, when not ok.
        error: the exception message, when not ok.
        traceback: the user's traceback, when not ok.
    """

    step: str
    attempt: int
    ok: bool
    started_at: float
    finished_at: float
    outputs: tuple[tuple[str, ArtifactRecord], ...] = ()
    metrics: tuple[tuple[str, Any, float], ...] = ()
    error_type: str = ""
    error: str = ""
    traceback: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def not_run(cls, task: StepTask, error_type: str, error: str, **extra: Any) -> StepResult:
        """A failed attempt that never reached user code (now, zero duration)."""
        now = time.time()
        return cls(
            task.step,
            task.attempt,
            False,
            now,
            now,
            error_type=error_type,
            error=error,
            extra=extra,
        )


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
