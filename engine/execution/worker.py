"""Executing one step attempt: load inputs, call the user's function, store outputs, report back.

Everything here runs wherever the executor puts it (a thread, a process, a Dask worker).
"""

from __future__ import annotations

import os
import pickle
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from ..store.artifacts import ArtifactRecord, ArtifactStore
from ..types import OBJECT, PARAMETER, PATH, PATHS, check_output, describe, short_repr, type_name
from .capture import AttemptLog, Sink, start, stop
from .context import RunContext, activate, deactivate
from .task import UNCACHED, InputSpec, StepResult, StepTask

if TYPE_CHECKING:
    from ..definitions.component import Port

_stores: dict[str, ArtifactStore] = {}
_stores_lock = threading.Lock()
_last: tuple[dict[str, Any], ArtifactStore] | None = None  # the last spec asked for, its store


def _forget_stores() -> None:
    """In a forked worker: open stores afresh. The parent's store objects carry locks (the
    stat cache's) that another of its threads may have held at the fork: never reused."""
    global _stores_lock, _last
    _stores.clear()
    _last = None
    _stores_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_stores)


def open_store(spec: dict[str, Any]) -> ArtifactStore:
    """The store described by ``spec``, opened once per process."""
    global _last
    last = _last
    if last is not None and last[0] is spec:  # the runner's tasks share one spec
        return last[1]
    key = repr(sorted((k, repr(v)) for k, v in spec.items()))
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = ArtifactStore(**spec)
        _last = (spec, store)
        return store


def execute(task: StepTask, sink: Sink | None = None) -> StepResult:
    """Run one step attempt; never raises for user-code or artifact problems (they are reported).

    What the attempt prints and logs is captured (see ``capture.py``) and returned with it.

    Args:
        task: the attempt.
        sink: also called with each captured line (``sink(stream, line, level)``).
    """
    return attempt(task, sink)[0]


def attempt(task: StepTask, sink: Sink | None = None) -> tuple[StepResult, Exception | None]:
    """:func:`execute`, also returning the exception user code (or storing) raised, if any."""
    store = open_store(task.store)
    ctx = RunContext(
        run_id=task.run_id,
        step_name=task.step,
        _output_parent=store.output_parent,
        _store=store,
        regenerate_outputs=task.regenerate_outputs,
    )
    log = AttemptLog(_prefix(task), task.log_limit, task.log_spool, sink)
    started = time.time()
    token = activate(ctx)
    replaced = start(log)
    error: Exception | None = None
    outputs: tuple[tuple[str, ArtifactRecord], ...] = ()
    try:
        kwargs = {i.name: _load(store, i, _where(task)) for i in task.inputs}
        returned = task.component.fn(**kwargs)
        outputs = _store_outputs(task, returned, store, ctx)
    except Exception as exc:  # user code or its outputs
        error = exc
    finally:
        stop(replaced)
        deactivate(token)
        if ctx._output_dir is not None:
            import shutil

            shutil.rmtree(ctx._output_dir, ignore_errors=True)
    logs, chars = log.finish()
    done = time.time()
    if error is not None:
        failed = StepResult(
            task.step,
            task.attempt,
            False,
            started,
            done,
            metrics=tuple(ctx.metrics),
            error_type=type(error).__name__,
            error=str(error),
            traceback=_user_traceback(error),
            logs=logs,
            log_chars=chars,
        )
        return failed, error
    metrics = tuple(ctx.metrics)
    extra = {UNCACHED: ctx.uncached} if ctx.uncached else {}
    ok = StepResult(
        task.step,
        task.attempt,
        True,
        started,
        done,
        outputs,
        metrics,
        extra=extra,
        logs=logs,
        log_chars=chars,
    )
    return ok, None


def _prefix(task: StepTask) -> str | None:
    """What echoed lines start with: ``[step] ``, ``[step attempt 2] `` on a retry."""
    if not task.echo_logs:
        return None
    return f"[{task.step}] " if task.attempt == 1 else f"[{task.step} attempt {task.attempt}] "


def _load(store: ArtifactStore, spec: InputSpec, where: str) -> Any:
    if spec.record is None:
        return spec.value
    try:
        return store.load(spec.record, spec.annotation)
    except ValueError as exc:  # e.g. None from an Optional[T] output into a T input
        if spec.record.fmt != "json":
            raise
        raise ArtifactError(
            f"{where}, argument {spec.name!r}: the upstream value does not fit "
            f"{type_name(spec.annotation)} ({exc}); declare the input to accept it "
            "(e.g. Optional[...]) or make the upstream step return that type"
        ) from None


def _store_outputs(
    task: StepTask, returned: Any, store: ArtifactStore, ctx: RunContext
) -> tuple[tuple[str, ArtifactRecord], ...]:
    ports = task.component.outputs
    if not ports:
        return ()
    where = _where(task)
    values = _split(where, ports, returned)
    checked = [
        _checked(f"{where}, output {p.name!r}", p, v) for p, v in zip(ports, values, strict=True)
    ]
    movable = ctx._output_dir if isinstance(ctx._output_dir, Path) else None
    return tuple(
        (p.name, _write(store, f"{where}, output {p.name!r}", p, v, movable, task.run_id))
        for p, v in zip(ports, checked, strict=True)
    )


def _where(task: StepTask) -> str:
    return f"step {task.step!r}, component {task.component.name!r}"


def _split(where: str, ports: tuple[Port, ...], returned: Any) -> tuple[Any, ...]:
    """One value per output: the return value itself, or the items of the returned tuple."""
    if len(ports) == 1:
        return (returned,)
    if isinstance(returned, tuple) and len(returned) == len(ports):
        return returned
    got = (
        f"a tuple of {len(returned)} values {short_repr(returned)}"
        if isinstance(returned, tuple)
        else describe(returned)
    )
    raise ArtifactError(
        f"{where} declares {len(ports)} outputs ({', '.join(p.name for p in ports)}) but "
        f"returned {got}; return a tuple of {len(ports)} values in that order"
    )


def _checked(at: str, port: Port, value: Any) -> Any:
    """The value as it will be stored, after checking it against the declared type."""
    try:
        value = check_output(value, port.annotation)
    except ValueError as exc:
        raise ArtifactError(
            f"{at}: {exc} (declared {type_name(port.annotation)}); return a value of the "
            "declared type or change the return annotation"
        ) from None
    if value is None:  # an Optional output
        return None
    paths = value if port.kind == PATHS else [value] if port.kind == PATH else []
    for i, path in enumerate(paths):
        if not path.exists():
            item = f" (item {i})" if port.kind == PATHS else ""
            raise ArtifactError(
                f"{at}: the returned path {str(path)!r}{item} does not exist; write the file "
                "(e.g. under get_run_context().output_dir) before returning its path"
            )
    return value


def _write(
    store: ArtifactStore, at: str, port: Port, value: Any, movable: Path | None, run_id: str
) -> ArtifactRecord:
    # None from an Optional table, path or object output is stored as an object.
    kind = port.kind if value is not None or port.kind == PARAMETER else OBJECT
    try:
        return store.write(value, kind, port.annotation, movable, lease=run_id)
    except ArtifactError as exc:
        raise ArtifactError(f"{at}: {exc}") from None
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        if kind != OBJECT:
            raise
        raise ArtifactError(
            f"{at}: the returned {type_name(type(value))} cannot be pickled "
            f"({type(exc).__name__}: {exc}); return a picklable value, or save it under "
            "get_run_context().output_dir and return the Path"
        ) from None


def _user_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    # Drop this module's frames so the traceback starts in the user's code.
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
