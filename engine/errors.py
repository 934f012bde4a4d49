"""Every exception headrace raises on purpose, in one module.

The hierarchy::

    HeadraceError                     root: catch this to catch anything headrace raises
    ├── DefinitionError               a component or pipeline is wrong (found at build time)
    ├── ParameterError                a parameter value is unknown, missing or ill-typed
    ├── PipelineLoadError             FILE.py[:PIPELINE] cannot be loaded
    ├── WorkspaceError                the workspace database or store cannot be used as asked
    │   └── RunExistsError            a run with the requested id is already recorded
    ├── ArtifactError                 a value cannot be stored as, or loaded from, an artifact
    ├── StepFailedError               user code in a step raised (carries its traceback)
    ├── ParallelRunError              a parallel-run step passed a failure threshold, or init() raised
    ├── UnhashableInput (TypeError)   a value has no canonical fingerprint
    ├── StoreUnreachableError         Dask workers cannot see the workspace's artifact store
    └── PrefectServerError (RuntimeError)  the Prefect server cannot be started or reached

The scheduler's errors (``ScheduleError``, ``SchedulerError``, ``DaemonRunningError``) are
``HeadraceError`` subclasses too; they live with the scheduler, which the engine never imports.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "ArtifactError",
    "DefinitionError",
    "HeadraceError",
    "ParallelRunError",
    "ParameterError",
    "PipelineLoadError",
    "PrefectServerError",
    "RunExistsError",
    "StepFailedError",
    "StoreUnreachableError",
    "UnhashableInput",
    "WorkspaceError",
]


class HeadraceError(Exception):
    """Root of every error headrace raises on purpose."""


class DefinitionError(HeadraceError):
    """The user's component or pipeline definition is wrong (found before anything runs).

    Attributes:
        problems: every problem found, each naming the component, the argument, why and the fix.
    """

    def __init__(self, problems: Sequence[str] | str, *, title: str | None = None):
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        if len(self.problems) == 1 and title is None:
            text = self.problems[0]
        else:
            head = title or f"{len(self.problems)} problems found"
            text = head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class ParameterError(HeadraceError):
    """A pipeline parameter value is unknown, missing or of the wrong type."""


class WorkspaceError(HeadraceError):
    """The workspace (database or artifact store) cannot be used as asked."""


class RunExistsError(WorkspaceError):
    """A run with the requested id is already recorded (the scheduler relies on this)."""


class ArtifactError(HeadraceError):
    """A value cannot be stored as, or loaded from, the artifact its annotation asks for."""


class StepFailedError(HeadraceError):
    """User code in a step raised; carries the step name and the user's traceback text.

    Attributes:
        step: the step's name.
        component: the component's name.
        error_type: the class name of the exception user code raised.
        user_traceback: the formatted traceback from user code.
    """

    def __init__(
        self, step: str, component: str, error_type: str, message: str, user_traceback: str
    ):
        self.step = step
        self.component = component
        self.error_type = error_type
        self.message = message
        self.user_traceback = user_traceback
        super().__init__(f"step {step!r} (component {component!r}) failed: {error_type}: {message}")

    def __reduce__(self) -> tuple[object, ...]:  # pickles (Dask, Prefect) with its attributes
        args = (self.step, self.component, self.error_type, self.message, self.user_traceback)
        return (type(self), args, self.__dict__)


class ParallelRunError(HeadraceError):
    """A parallel-run step stopped: a failure threshold was passed, or the entry's init() failed.

    The message names the counts and the threshold, then the first errors with their
    mini-batch and items (or the entry's traceback when init() failed).
    """


class PipelineLoadError(HeadraceError):
    """The file or the pipeline named in ``FILE.py[:PIPELINE]`` cannot be loaded."""


class UnhashableInput(HeadraceError, TypeError):
    """A value has no canonical fingerprint (not a primitive, Enum or container of them)."""


class StoreUnreachableError(HeadraceError):
    """Dask workers cannot see the workspace's artifact store."""


class PrefectServerError(HeadraceError, RuntimeError):
    """The Prefect server cannot be started, found or reached."""


class ExitAtImport(BaseException):
    """Internal: a pipeline file called ``os._exit`` while being imported (never escapes the
    loader, which turns it into a ``PipelineLoadError``).

    Attributes:
        code: the exit status it asked for.
    """

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return a ' Did you mean ...?' suffix for the closest candidate, or ''.

    Args:
        name: what the user wrote.
        candidates: the names that would have been valid.
    """
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
