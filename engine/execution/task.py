"""The values that travel to and from a worker: StepTask (one attempt), InputSpec, StepResult.

They are plain picklable values, and user exceptions come back as text, never as objects that
may fail to unpickle where the runner reads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..definitions.component import Component
from ..store.artifacts import ArtifactRecord
from .capture import LOG_LIMIT

UNCACHED = "uncached"
"""The key of ``StepResult.extra`` saying why a result that succeeded is not cached."""


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
        log_spool: a file to append the attempt's output to as it comes (None: none).
        log_limit: characters of output kept with the attempt.
        echo_logs: echo captured lines to the terminal, prefixed with the step name.
        regenerate_outputs: the run reuses nothing (parallel-run steps ignore their ledger).
    """

    run_id: str
    step: str
    component: Component
    inputs: tuple[InputSpec, ...]
    store: dict[str, Any]
    attempt: int = 1
    log_spool: str | None = None
    log_limit: int = LOG_LIMIT
    echo_logs: bool = True
    regenerate_outputs: bool = False


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
        extra: executor-specific notes (eager reuse, not run), and ``UNCACHED``: why a
            result that succeeded must not be cached.
        logs: what the attempt printed and logged (capped, with a note where cut).
        log_chars: characters of output seen (more than ``len(logs)`` when cut).
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
    logs: str = ""
    log_chars: int = 0

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
