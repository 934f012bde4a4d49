"""The executor protocol: the runner hands over ready step attempts and gets futures back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..worker import StepResult, StepTask

T = TypeVar("T")


@dataclass(frozen=True)
class RunInfo:
    """What an executor may show about the run it serves.

    Attributes:
        run_id: the headrace run id.
        pipeline: the pipeline name.
        params: the bound parameter values.
        upstream: step name → the steps it waits for (the DAG, for executors that draw it).
    """

    run_id: str
    pipeline: str
    params: dict[str, Any]
    upstream: dict[str, tuple[str, ...]] = field(default_factory=dict)


class Executor(Protocol):
    """Runs step attempts somewhere; the run's state machine stays in the runner.

    Attributes:
        name: "local", "dask" or "prefect".
    """

    name: str

    def session(self, run: RunInfo, body: Callable[[], T]) -> T:
        """Run the runner's loop ``body`` inside whatever the executor needs (a flow run, a client)."""
        ...

    def submit(self, task: StepTask, upstream: Sequence[str]) -> Future[StepResult]:
        """Start one step attempt; ``upstream`` names the steps it waited for."""
        ...

    def note_reused(self, step: str, reused_from: str, upstream: Sequence[str]) -> None:
        """Tell the executor a step was served from the cache without running."""
        ...

    def shutdown(self, cancel: bool) -> None:
        """Release resources; with ``cancel``, drop attempts not yet started."""
        ...
