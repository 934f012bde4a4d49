"""Cron schedules, and the wall-clock and DST rules that every schedule follows.

Wall times are naive datetimes in a schedule's time zone; ``resolve_wall`` turns one into a
UTC instant by the DST rule of ``headrace.scheduler.recurrence``: a wall time inside a
spring-forward gap fires shifted forward by the gap, a repeated wall time fires at its first
occurrence (``fold=0``). Cron expressions are evaluated by ``croniter`` on naive wall times
(so croniter's own DST handling never comes into play) and then resolved by that rule.
"""

from __future__ import annotations

import difflib
import itertools
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

from headrace.engine.errors import HeadraceError

EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)


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


def zone_named(name: Any, owner: str) -> ZoneInfo:
    """Return the ``ZoneInfo`` for ``name`` or raise a ``ScheduleError`` naming it."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    hint = did_you_mean(str(name), zoneinfo.available_timezones())
    raise ScheduleError(
        f"{owner}: time_zone={name!r} is not a known IANA time zone; give a name such as "
        f"'UTC' or 'Europe/Berlin'{hint}"
    )


def start_time_of(value: Any, owner: str) -> datetime | None:
    """Normalise a ``start_time``: a datetime, an ISO 8601 string or None."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ScheduleError(
        f"{owner}: start_time={value!r} is not a datetime; give a datetime or an ISO 8601 "
        "string such as '2026-01-01T02:00'"
    )


def resolve_wall(wall: datetime, zone: ZoneInfo) -> datetime:
    """Turn a naive wall time in ``zone`` into a UTC instant by the DST rule.

    With ``fold=0`` a repeated wall time means its first occurrence, and (PEP 495) a wall
    time inside a gap takes the offset from before the transition, which lands on the wall
    time shifted forward by the gap.
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_instant(value: Any, zone: ZoneInfo, name: str) -> datetime:
    """Return ``value`` as an aware UTC instant; a naive value is a wall time in ``zone``."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name}={value!r} must be a datetime")
    if value.utcoffset() is None:
        return resolve_wall(value.replace(tzinfo=None), zone)
    return value.astimezone(UTC)


def wall_of(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return the naive wall time of ``instant`` in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)


def fire_floor(after: Any, start_time: datetime | None, zone: ZoneInfo) -> datetime:
    """Return the instant a fire must be strictly after: ``after``, and not before the start."""
    floor = to_instant(after, zone, "after")
    if start_time is not None:
        floor = max(floor, to_instant(start_time, zone, "start_time") - _ONE_US)
    return floor


def scan_start(floor: datetime, zone: ZoneInfo) -> datetime:
    """Return the earliest wall time whose fire can land after ``floor``.

    That is the wall time of ``floor``, moved back by a DST gap that ended within the day
    before it (a wall time in the gap resolves to after the gap).
    """
    offset_now = floor.astimezone(zone).utcoffset() or timedelta(0)
    offset_before = (floor - timedelta(days=1)).astimezone(zone).utcoffset() or timedelta(0)
    return wall_of(floor, zone) - max(offset_now - offset_before, timedelta(0))


def earliest_after(walls: Iterator[datetime], floor: datetime, zone: ZoneInfo) -> datetime:
    """Return the first instant strictly after ``floor`` among ascending wall times.

    Resolved instants are ordered like their resolved wall times, and a wall time resolves
    to itself or later, so the scan stops at the first wall time past the best one found.
    """
    best: datetime | None = None
    best_wall = EPOCH
    for wall in walls:
        if best is not None and wall > best_wall:
            return best
        instant = resolve_wall(wall, zone)
        if instant > floor and (best is None or instant < best):
            best, best_wall = instant, wall_of(instant, zone)
    if best is None:
        raise ScheduleError("schedule: no fire time after the given time")
    return best


def fields_of(d: Any, kind: str, known: Iterable[str]) -> dict[str, Any]:
    """Check a stored schedule dict of ``kind`` and return its fields without "type"."""
    if not isinstance(d, dict):
        raise ScheduleError(f"schedule: {d!r} is not a dict; give the output of to_dict()")
    if d.get("type", kind) != kind:
        raise ScheduleError(f"schedule: type={d['type']!r} is not {kind!r}")
    fields = {k: v for k, v in d.items() if k != "type"}
    for key in fields:
        if key not in known:
            raise ScheduleError(
                f"schedule: unknown field {key!r} for a {kind}; give only "
                f"{', '.join(sorted(known))}{did_you_mean(key, known)}"
            )
    return fields


def _check_expression(expression: Any) -> str:
    """Return the normalised cron ``expression`` or raise naming croniter's reason."""
    text = " ".join(expression.split()) if isinstance(expression, str) else ""
    count = len(text.split())
    if not isinstance(expression, str):
        reason = "it is not a string"
    elif not text.startswith("@") and count not in (5, 6):
        reason = f"it has {count} fields, not 5 or 6"
    else:
        try:
            croniter(text, datetime(2000, 1, 1)).get_next(datetime)
            return text
        except CroniterBadDateError:
            reason = "it matches no date"
        except (CroniterError, TypeError, ValueError, KeyError) as exc:
            reason = str(exc) or type(exc).__name__
    raise ScheduleError(
        f"Cron: expression={expression!r} is not a valid cron expression ({reason}); give 5 "
        "fields 'minute hour day-of-month month day-of-week' (a 6th is seconds), e.g. "
        "'0 2 * * *' for 02:00 every day"
    )


@dataclass(frozen=True)
class Cron:
    """A cron schedule evaluated on wall-clock time in ``time_zone``.

    Attributes:
        expression: A 5-field cron expression (or 6 with seconds last, or an alias such as
            "@daily"), validated with croniter.
        time_zone: IANA time zone name the expression's wall times are in.
        start_time: No fire before this; naive means wall time in time_zone.
    """

    expression: str
    time_zone: str = "UTC"
    start_time: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", _check_expression(self.expression))
        zone_named(self.time_zone, "Cron")
        object.__setattr__(self, "start_time", start_time_of(self.start_time, "Cron"))

    def next_fire(self, after: datetime) -> datetime:
        """Return the first fire time strictly after ``after``, as an aware UTC datetime.

        Args:
            after: An aware datetime, or a naive wall time in ``time_zone``.
        """
        zone = ZoneInfo(self.time_zone)
        floor = fire_floor(after, self.start_time, zone)
        cron = croniter(self.expression, scan_start(floor, zone) - timedelta(seconds=1))
        walls = (cron.get_next(datetime) for _ in itertools.count())
        try:
            return earliest_after(walls, floor, zone)
        except CroniterBadDateError as exc:
            raise ScheduleError(
                f"Cron: expression={self.expression!r} has no fire time after {after}; "
                "give an expression that matches a future date"
            ) from exc

    def describe(self) -> str:
        """Return a human description, e.g. "cron '0 2 * * *' (Europe/Berlin)"."""
        start = f" starting {self.start_time.isoformat(' ', 'minutes')}" if self.start_time else ""
        return f"cron {self.expression!r}{start} ({self.time_zone})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict that ``from_dict`` turns back into an equal value."""
        start = self.start_time.isoformat() if self.start_time else None
        return {
            "type": "cron",
            "expression": self.expression,
            "time_zone": self.time_zone,
            "start_time": start,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cron:
        """Build a ``Cron`` from ``to_dict`` output.

        Args:
            d: The dict; "type", if present, must be "cron".
        """
        return cls(**fields_of(d, "cron", cls.__dataclass_fields__))
