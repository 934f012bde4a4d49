"""Cron schedules (crontab(5), as Vixie/Debian cron reads it), and the wall-clock and DST rules.

Wall times are naive datetimes in a schedule's time zone; ``resolve_wall`` turns one into a
UTC instant by the DST rule of ``headrace.scheduler.recurrence``: a wall time inside a
spring-forward gap fires shifted forward by the gap, a repeated wall time fires at its first
occurrence (``fold=0``).

Cron expressions are parsed and matched here (no croniter), with the five standard fields
``minute hour day-of-month month day-of-week`` read as Vixie/Debian cron reads them:

* ``*``, ``N``, ``N-M``, ``*/S``, ``N-M/S`` and lists of them; ``N/S`` means ``N-MAX/S`` (as
  in cronsim and croniter; Debian cron drops the ``/S``, cronie refuses it). A reversed range
  (``5-1``) is refused: cron has no wrap-around ranges. Names JAN-DEC and SUN-SAT (any case);
  day of week 0-7 with both 0 and 7 meaning Sunday; ``?`` in the day fields means ``*``.
* Day of month and day of week: when either field starts with ``*`` (``*/2`` included), a
  day must match both; when neither does, a day matching either fires (Vixie's rule).
* Extensions, in day of month: ``L`` (last day), ``LW`` (last weekday), ``15W`` (the weekday
  nearest the 15th, within its month; a day past the month's end counts as its last); in
  day of week: ``5L`` or ``L5`` (last Friday), ``5#2`` (second Friday). They are ordinary
  values of their field, so the rule above applies to them too.
* The aliases @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.
* Refused with a message: a 6th field (seconds), croniter's ``R`` and ``H``, @reboot, and an
  expression that matches no date.

DST. A job whose minute or hour field starts with ``*`` (``*/15 * * * *``, ``0 * * * *``,
@hourly) runs on the clock, as Debian cron runs it: it fires at every instant whose local
wall time matches, so on the fall-back night it fires in both occurrences of the repeated
hour, and wall times skipped by spring-forward do not fire. Any other job is a fixed-time
job and follows ``resolve_wall``, like every headrace schedule: a skipped wall time fires
shifted by the gap (Debian runs it right after the change), a repeated one fires once.
The clock walk assumes what every tz database zone satisfies (tested): UTC offset changes
are at least three days apart and at most 24 hours in size.
"""

from __future__ import annotations

import bisect
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .cronexpr import (  # noqa: F401  (re-exported: CronSpec and friends were public here)
    ALIASES,
    FIELD_NAMES,
    CronSpec,
    InvalidCron,
    next_day,
    spec_of,
)
from .errors import ScheduleError, did_you_mean  # noqa: F401  (re-exported)

EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)


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


def cron_walls(spec: CronSpec, start: datetime) -> Iterator[datetime]:
    """The wall times ``spec`` matches from ``start``'s minute on, ascending.

    Whole days and hours that cannot match are skipped, so a sparse expression such as
    ``0 0 29 2 *`` costs a few steps per year, not one per minute.
    """
    day: date | None = start.date()
    hour, minute = start.hour, start.minute
    while day is not None and (day := next_day(spec, day)) is not None:
        if day != start.date():
            hour = minute = 0
        for h in spec.hours[bisect.bisect_left(spec.hours, hour) :]:
            first = bisect.bisect_left(spec.minutes, minute) if h == hour else 0
            for m in spec.minutes[first:]:
                yield datetime(day.year, day.month, day.day, h, m)
        day = day + _DAY if day < date.max else None
        hour = minute = 0


def _next_wall(spec: CronSpec, wall: datetime) -> datetime | None:
    """The first wall time ``spec`` matches at or after ``wall`` (a whole minute), or None."""
    minute = wall.replace(second=0, microsecond=0)
    if minute < wall:
        minute += timedelta(minutes=1)
    return next(cron_walls(spec, minute), None)


def offset_at(instant: datetime, zone: ZoneInfo) -> timedelta:
    """The UTC offset of ``zone`` at ``instant``."""
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def first_change(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant in (low, high] whose UTC offset differs from low's (one change)."""
    offset = offset_at(low, zone)
    while high - low > _ONE_US:
        middle = low + (high - low) // 2
        low, high = (middle, high) if offset_at(middle, zone) == offset else (low, middle)
    return high


def next_on_the_clock(spec: CronSpec, zone: ZoneInfo, floor: datetime) -> datetime | None:
    """The first instant after ``floor`` whose wall time in ``zone`` matches ``spec``.

    Walks stretches of constant UTC offset: within one, instants and wall times move
    together; at an offset change (found by bisection) the walk resumes on the new wall
    time, which repeats an hour after a fall-back and skips one at a spring-forward.
    """
    t = floor + _ONE_US
    while True:
        offset = offset_at(t, zone)
        wall = (t + offset).replace(tzinfo=None)
        target = _next_wall(spec, wall)
        if target is None:
            return None
        fire = (target - offset).replace(tzinfo=UTC)
        probe = min(fire, t + _DAY)
        if offset_at(probe, zone) != offset:  # at most one change within a day
            t = first_change(zone, t, probe)
        elif fire <= probe:
            return fire
        elif target - wall > 4 * _DAY:  # nothing matches before target - 3 days on any clock
            t = max(t + _DAY, resolve_wall(target - 3 * _DAY, zone))
        else:
            t += _DAY


# --- the Cron schedule ----------------------------------------------------------------------


def _check_expression(expression: Any) -> str:
    """Return the normalised cron ``expression`` or raise a ``ScheduleError`` with the reason."""
    text = " ".join(expression.split()) if isinstance(expression, str) else ""
    try:
        if not isinstance(expression, str):
            raise InvalidCron("it is not a string")
        spec_of(text)
        return text
    except InvalidCron as exc:
        reason = str(exc)
    raise ScheduleError(
        f"Cron: expression={expression!r} is not a valid cron expression ({reason}); give 5 "
        "fields 'minute hour day-of-month month day-of-week', e.g. '0 2 * * *' for 02:00 "
        "every day"
    )


@dataclass(frozen=True)
class Cron:
    """A cron schedule evaluated on wall-clock time in ``time_zone``.

    Attributes:
        expression: A 5-field cron expression or an alias such as "@daily", read as
            crontab(5) (see the module docstring).
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

    @property
    def spec(self) -> CronSpec:
        """The parsed expression."""
        return spec_of(self.expression)

    def next_fire(self, after: datetime) -> datetime:
        """Return the first fire time strictly after ``after``, as an aware UTC datetime.

        Args:
            after: An aware datetime, or a naive wall time in ``time_zone``.
        """
        zone = ZoneInfo(self.time_zone)
        floor = fire_floor(after, self.start_time, zone)
        spec = self.spec
        try:
            if spec.on_the_clock:
                fire = next_on_the_clock(spec, zone, floor)
            else:
                fire = earliest_after(cron_walls(spec, scan_start(floor, zone)), floor, zone)
        except (ScheduleError, OverflowError):
            fire = None
        if fire is None:
            raise ScheduleError(
                f"Cron: expression={self.expression!r} has no fire time after {after}; "
                "give an expression that matches a future date"
            )
        return fire

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
