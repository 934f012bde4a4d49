"""``since=`` / ``--since``: a point in time given as a duration ago, a date, or a timestamp."""

from __future__ import annotations

import datetime as dt
import time

from ..errors import HeadraceError
from .durations import seconds


def since_time(value: str | float | dt.datetime | dt.date, option: str = "since") -> float:
    """Unix time of ``value``: "2h" / "3d" ago, an ISO date or date-time (local time unless it
    names a zone), a datetime, or a unix time.

    Args:
        value: the point in time.
        option: how the caller names it in errors (``--since``).

    Raises:
        HeadraceError: ``value`` is none of those, naming ``option`` and the accepted forms.
    """
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return time.time() - seconds(value.strip())
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(value.strip()).timestamp()
        except ValueError:
            pass
    raise HeadraceError(
        f"{option} {value!r} is not a point in time; give a duration ago such as 2h or 7d, "
        "a date such as 2026-12-01, or a date and time such as 2026-12-01T08:30"
    )
