"""The run context a step sees through ``get_run_context()``: ids, output folder, metric logging."""

from __future__ import annotations

import json
import tempfile
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import HeadraceError
from ..store.staging import owned_prefix


@dataclass
class RunContext:
    """What a running step knows about its run; outside a run, a harmless offline stand-in.

    Attributes:
        run_id: the pipeline run's id ("offline" outside a run).
        step_name: the step's name ("" outside a run).
        metrics: every logged value in order, as (name, value, unix time) triples.
        uncached: why this attempt's result, although it succeeded, must not be cached (a
            parallel-run step with failed items: the next run scores their mini-batches
            again); empty when it may be.
    """

    run_id: str = "offline"
    step_name: str = ""
    _output_dir: Path | None = None
    _output_parent: Path | None = None
    metrics: list[tuple[str, Any, float]] = field(default_factory=list)
    _store: Any = None  # the workspace's ArtifactStore, for steps that keep their own results
    regenerate_outputs: bool = False  # the run was asked to reuse nothing
    uncached: str = ""

    @property
    def output_dir(self) -> Path:
        """A folder private to this step attempt where it may write files it returns as ``Path``."""
        if self._output_dir is None:
            parent = self._output_parent
            if parent is None:
                self._output_dir = Path(tempfile.mkdtemp(prefix="headrace-offline-"))
            else:
                parent.mkdir(parents=True, exist_ok=True)
                # out-<pid>-...: gc never removes the folder of a process that is alive
                self._output_dir = Path(tempfile.mkdtemp(prefix=owned_prefix("out-"), dir=parent))
        return self._output_dir

    @property
    def in_run(self) -> bool:
        """Whether this context belongs to a real pipeline run."""
        return self.run_id != "offline"

    def log(self, name: str, value: Any) -> None:
        """Record a metric; logging the same name again makes a series (like Azure's ``run.log``).

        Args:
            name: the metric name.
            value: a number, bool or str (anything JSON can hold).

        Raises:
            HeadraceError: the name is empty or the value cannot be stored as JSON.
        """
        if not isinstance(name, str) or not name:
            raise HeadraceError(f"log(name={name!r}, ...): the metric name must be a non-empty str")
        try:
            value = json.loads(json.dumps(value, default=_plain))
        except (TypeError, ValueError) as exc:
            raise HeadraceError(
                f"log({name!r}, {type(value).__name__}): metric values must be numbers, "
                "bools, strings, or lists/dicts of them; convert it first, e.g. float(value)"
            ) from exc
        self.metrics.append((name, value, time.time()))

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        """Log several metrics at once.

        Args:
            metrics: name → value.
        """
        for name, value in metrics.items():
            self.log(name, value)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (and anything with .tolist()/.item()) as plain Python values."""
    for attr in ("tolist", "item"):
        if callable(getattr(value, attr, None)):
            return getattr(value, attr)()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


_current: ContextVar[RunContext | None] = ContextVar("headrace_run_context", default=None)
_offline = RunContext()


def get_run_context() -> RunContext:
    """Return the current step's run context, or an offline one outside a pipeline run."""
    return _current.get() or _offline


def activate(ctx: RunContext) -> Any:
    """Make ``ctx`` the current context; returns a token for :func:`deactivate`."""
    return _current.set(ctx)


def deactivate(token: Any) -> None:
    """Restore the context that was current before :func:`activate`."""
    _current.reset(token)
