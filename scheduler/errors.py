"""The scheduler's schedule-definition error, its did-you-mean (any case), its CLI wording."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from headrace.engine.errors import HeadraceError


class SchedulerError(HeadraceError):
    """A schedule cannot be created or used as asked; the message names the fix."""


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


#: How the Python API's field names read as ``schedule create`` flags.
_FLAGS = {
    "expression": "--cron",
    "every": "--every",
    "frequency": "--every",
    "interval": "--every",
    "at": "--at",
    "hours": "--at",
    "minutes": "--at",
    "time_of_day": "--at",
    "week_days": "--week-days",
    "time_zone": "--timezone",
    "start_time": "--start",
}
_FIELD = re.compile(r"^(?:parse_every|Recurrence|Cron): (\w+)=")


def in_flags(message: str) -> str:
    """A schedule error worded with the CLI flag (``--at '25:00' ...``), not the field name
    (``parse_every: at='25:00' ...``)."""
    found = _FIELD.match(message)
    if found is None or found.group(1) not in _FLAGS:
        return message
    return f"{_FLAGS[found.group(1)]} {message[found.end() :]}"
