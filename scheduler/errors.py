"""The scheduler's schedule-definition error and its did-you-mean (any case) helper."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from headrace.engine.errors import HeadraceError


class ScheduleError(HeadraceError, ValueError):
    """A schedule definition is invalid; the message names the field, the value and the fix.

    A ``HeadraceError`` like every error headrace raises on purpose, and a ``ValueError``
    (an invalid value), as it always was.
    """


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return "; did you mean 'X'?" for the closest of ``choices`` (any case), or ""."""
    names = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(value.lower(), list(names), n=1)
    return f"; did you mean {names[close[0]]!r}?" if close else ""
