"""The headrace error hierarchy: definition errors versus wrapped step failures."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


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
        self.user_traceback = user_traceback
        super().__init__(f"step {step!r} (component {component!r}) failed: {error_type}: {message}")


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return a ' Did you mean ...?' suffix for the closest candidate, or ''.

    Args:
        name: what the user wrote.
        candidates: the names that would have been valid.
    """
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
