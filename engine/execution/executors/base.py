"""The executor protocol: the runner hands over ready step attempts and gets futures back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from ..task import StepResult, StepTask

if TYPE_CHECKING:
    from ..eager import EagerPlan

T = TypeVar("T")


@dataclass(frozen=True)
class RunInfo:
    """What an executor may show about the run it serves.

    Attributes:
        run_id: the headrace run id.
        pipeline: the pipeline name.
        params: the bound parameter values.
        upstream: step name → the steps it waits for (the DAG, for executors that draw it).
        workspace: the workspace folder (where the prefect executor finds its server).
        store: :meth:`ArtifactStore.spec` of the workspace store (the dask executor checks
            that its workers can reach it before the run starts).
        tags: the run's tags (``{"schedule": NAME}`` for a scheduled run).
    """

    run_id: str
    pipeline: str
    params: dict[str, Any]
    upstream: dict[str, tuple[str, ...]] = field(default_factory=dict)
    workspace: Path | None = None
    store: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)


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


@runtime_checkable
class EagerExecutor(Executor, Protocol):
    """An executor that also accepts steps before their upstream steps finish (``eager.py``).

    Distributed executors implement it so a chain costs no client round trip per step.
    """

    def submit_eager(
        self,
        task: StepTask,
        plan: EagerPlan,
        after: Sequence[Future[StepResult]],
        upstream: Sequence[str],
    ) -> Future[StepResult]:
        """Start ``task`` once the attempts ``after`` (in ``plan.after`` order) have finished;
        it gets their results and runs :func:`headrace.engine.eager.run_eager`."""
        ...

    def discard(self, future: Future[StepResult]) -> None:
        """Drop an eager attempt the runner will not adopt (cancel it if it has not started)."""
        ...


def infrastructure_failure(task: StepTask, where: str, exc: BaseException) -> StepResult:
    """A failed attempt for an error outside user code (a worker died, a task could not unpickle)."""
    error = f"{where} could not run step {task.step!r}: {exc}"
    return StepResult.not_run(task, type(exc).__name__, error)
