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
import calendar
import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headrace.engine.errors import HeadraceError

EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)


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


# --- cron expressions: parsing --------------------------------------------------------------

FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {n: i + 1 for i, n in enumerate(_MONTHS)},
    {n: i for i, n in enumerate(_DAYS)},
)
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NEAREST = re.compile(r"(\d+)W")
_LAST_DOW = re.compile(r"L(\d+)|(\d+)L")
_NTH = re.compile(r"(\w+)#(\w*)")


class _Bad(Exception):
    """Why a cron expression is invalid (becomes the reason of a ``ScheduleError``)."""


@dataclass(frozen=True)
class CronSpec:
    """A parsed cron expression: the values each field allows.

    Attributes:
        minutes: Allowed minutes, ascending.
        hours: Allowed hours, ascending.
        months: Allowed months (1-12).
        doms: Allowed days of month (1-31).
        dom_last: ``L``: the month's last day.
        dom_last_weekday: ``LW``: the month's last Monday-to-Friday.
        dom_nearest: ``nW``: the weekday nearest day n (clamped to the month's last day).
        dows: Allowed days of week, 0 (Sunday) to 6.
        dow_last: ``5L``: the last such weekday of the month.
        dow_nth: ``5#2``: (weekday, n) for the n-th such weekday of the month.
        day_and: A day must match both day fields (one of them starts with ``*``).
        on_the_clock: The minute or hour field starts with ``*`` (the DST rule of the module).
    """

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    doms: frozenset[int]
    dom_last: bool
    dom_last_weekday: bool
    dom_nearest: frozenset[int]
    dows: frozenset[int]
    dow_last: frozenset[int]
    dow_nth: frozenset[tuple[int, int]]
    day_and: bool
    on_the_clock: bool


def _value(text: str, index: int) -> int:
    """One number or name of field ``index``, checked against the field's range."""
    name, (low, high) = FIELD_NAMES[index], _BOUNDS[index]
    if text in _NAMES[index]:
        return _NAMES[index][text]
    if not (text.isascii() and text.isdigit()):
        names = _NAMES[index]
        kind = f"a number {low}-{high}" + (
            f" or a name such as {next(iter(names))}" if names else ""
        )
        raise _Bad(f"{name} value {text!r} is not {kind}{did_you_mean(text, names)}")
    if not low <= int(text) <= high:
        raise _Bad(f"{name} value {text} is out of range {low}-{high}")
    return int(text)


def _range(term: str, index: int) -> range:
    """The values of one list item without special characters: ``*``, N, N-M, with /S."""
    name, (low, high) = FIELD_NAMES[index], _BOUNDS[index]
    base, slash, step_text = term.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
            raise _Bad(f"{name} step {step_text!r} in {term!r} is not a whole number 1 or more")
        step = int(step_text)
    if base == "*" or (base == "?" and index in (2, 4)):
        return range(low, high + 1, step)
    first, dash, last = base.partition("-")
    start = _value(first, index)
    end = _value(last, index) if dash else high if slash else start
    if start > end:
        top = 6 if index == 4 else high
        wrap = ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ((start, top), (low, end)))
        raise _Bad(
            f"{name} range {base!r} runs backwards; cron has no wrap-around ranges, write {wrap!r}"
        )
    return range(start, end + 1, step)


def _refuse_random(term: str, name: str) -> None:
    if term.startswith("R"):
        raise _Bad(
            f"{name} {term!r}: croniter's random 'R' is not supported, as a schedule must "
            "fire at the same times each time it is asked; give a number"
        )
    if term.startswith("H"):
        raise _Bad(f"{name} {term!r}: hashed 'H' values are not supported; give a number")


def _day_of_month_item(term: str, spec: dict[str, Any]) -> None:
    """Add one day-of-month list item (with ``L``, ``LW`` and ``nW``) to ``spec``."""
    if term == "L":
        spec["dom_last"] = True
    elif term == "LW":
        spec["dom_last_weekday"] = True
    elif match := _NEAREST.fullmatch(term):
        spec["dom_nearest"].add(_value(match[1], 2))
    elif "L" in term or "W" in term:
        raise _Bad(
            f"day-of-month {term!r} is not L, LW or a day with W (such as 15W); L and W take "
            "no range or step"
        )
    else:
        spec["doms"].update(_range(term, 2))


def _day_of_week_item(term: str, spec: dict[str, Any]) -> None:
    """Add one day-of-week list item (with ``5L``/``L5`` and ``5#2``) to ``spec``."""
    if match := _NTH.fullmatch(term):
        nth = match[2]
        if not (nth.isascii() and nth.isdigit() and 1 <= int(nth) <= 5):
            raise _Bad(f"day-of-week {term!r}: the week after '#' must be 1 to 5")
        spec["dow_nth"].add((_value(match[1], 4) % 7, int(nth)))
    elif match := _LAST_DOW.fullmatch(term):
        spec["dow_last"].add(_value(match[1] or match[2], 4) % 7)
    elif "L" in term or "#" in term:
        raise _Bad(
            f"day-of-week {term!r} is not a day with L (such as 5L, the last Friday) or with "
            "# (such as 5#2, the second Friday); L and # take no range or step"
        )
    else:
        spec["dows"].update(v % 7 for v in _range(term, 4))


def _parse_cron(fields: list[str]) -> CronSpec:
    """Parse the five fields of a cron expression (raises ``_Bad`` with the reason)."""
    spec: dict[str, Any] = {
        key: set()
        for key in ("minutes", "hours", "months", "doms", "dom_nearest", "dows", "dow_last")
    }
    spec.update(dom_last=False, dom_last_weekday=False, dow_nth=set())
    for index, text in enumerate(fields):
        for term in text.upper().split(","):
            if not term:
                raise _Bad(f"{FIELD_NAMES[index]} {text!r} has an empty list item")
            _refuse_random(term, FIELD_NAMES[index])
            if index == 2:
                _day_of_month_item(term, spec)
            elif index == 4:
                _day_of_week_item(term, spec)
            else:
                spec[("minutes", "hours", "", "months")[index]].update(_range(term, index))
    spec = {k: frozenset(v) if isinstance(v, set) else v for k, v in spec.items()}
    spec.update(minutes=tuple(sorted(spec["minutes"])), hours=tuple(sorted(spec["hours"])))
    return CronSpec(
        **spec,
        day_and=fields[2].startswith(("*", "?")) or fields[4].startswith(("*", "?")),
        on_the_clock=fields[0].startswith("*") or fields[1].startswith("*"),
    )


# --- cron expressions: matching wall times --------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _days_of_month(spec: CronSpec, year: int, month: int) -> tuple[int, ...]:
    """The days of ``year``-``month`` that ``spec`` fires on, ascending."""
    first, last = calendar.monthrange(year, month)  # first: Monday = 0

    def dow(day: int) -> int:  # cron's day of week, Sunday = 0
        return (first + day) % 7

    by_dom = {d for d in spec.doms if d <= last}
    if spec.dom_last:
        by_dom.add(last)
    if spec.dom_last_weekday:
        by_dom.add(last - {6: 1, 0: 2}.get(dow(last), 0))
    for wanted in spec.dom_nearest:
        day = min(wanted, last)
        if dow(day) == 6:
            day = day - 1 if day > 1 else day + 2
        elif dow(day) == 0:
            day = day + 1 if day < last else day - 2
        by_dom.add(day)
    by_dow = {
        d
        for d in range(1, last + 1)
        if dow(d) in spec.dows
        or (dow(d), (d + 6) // 7) in spec.dow_nth
        or (dow(d) in spec.dow_last and d + 7 > last)
    }
    return tuple(sorted(by_dom & by_dow if spec.day_and else by_dom | by_dow))


def _next_day(spec: CronSpec, day: date, until_year: int = 9999) -> date | None:
    """The first date on or after ``day`` that ``spec`` fires on, or None before the limit."""
    year, month, first = day.year, day.month, day.day
    while year <= until_year:
        if month in spec.months:
            days = _days_of_month(spec, year, month)
            i = bisect.bisect_left(days, first)
            if i < len(days):
                return date(year, month, days[i])
        year, month, first = (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)
    return None


def cron_walls(spec: CronSpec, start: datetime) -> Iterator[datetime]:
    """The wall times ``spec`` matches from ``start``'s minute on, ascending.

    Whole days and hours that cannot match are skipped, so a sparse expression such as
    ``0 0 29 2 *`` costs a few steps per year, not one per minute.
    """
    day: date | None = start.date()
    hour, minute = start.hour, start.minute
    while day is not None and (day := _next_day(spec, day)) is not None:
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


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def _first_change(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant in (low, high] whose UTC offset differs from low's (one change)."""
    offset = _offset(low, zone)
    while high - low > _ONE_US:
        middle = low + (high - low) // 2
        low, high = (middle, high) if _offset(middle, zone) == offset else (low, middle)
    return high


def next_on_the_clock(spec: CronSpec, zone: ZoneInfo, floor: datetime) -> datetime | None:
    """The first instant after ``floor`` whose wall time in ``zone`` matches ``spec``.

    Walks stretches of constant UTC offset: within one, instants and wall times move
    together; at an offset change (found by bisection) the walk resumes on the new wall
    time, which repeats an hour after a fall-back and skips one at a spring-forward.
    """
    t = floor + _ONE_US
    while True:
        offset = _offset(t, zone)
        wall = (t + offset).replace(tzinfo=None)
        target = _next_wall(spec, wall)
        if target is None:
            return None
        fire = (target - offset).replace(tzinfo=UTC)
        probe = min(fire, t + _DAY)
        if _offset(probe, zone) != offset:  # at most one change within a day
            t = _first_change(zone, t, probe)
        elif fire <= probe:
            return fire
        elif target - wall > 4 * _DAY:  # nothing matches before target - 3 days on any clock
            t = max(t + _DAY, resolve_wall(target - 3 * _DAY, zone))
        else:
            t += _DAY


# --- the Cron schedule ----------------------------------------------------------------------


def _fields_of_text(text: str) -> list[str]:
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise _Bad(
                f"{text!r} is not a schedule alias; give one of {', '.join(ALIASES)}"
                f"{did_you_mean(text, ALIASES)}"
            )
        return ALIASES[text.lower()].split()
    fields = text.split()
    if len(fields) == 6:
        raise _Bad(
            "it has 6 fields, not 5: headrace takes the five standard fields minute hour "
            "day-of-month month day-of-week and no seconds field (croniter reads seconds as a "
            "6th field, Quartz as a 1st); drop the seconds"
        )
    if len(fields) != 5:
        raise _Bad(f"it has {len(fields)} fields, not 5")
    return fields


@functools.lru_cache(maxsize=512)
def _spec_of(text: str) -> CronSpec:
    """Parse a normalised expression and check that it matches some date."""
    spec = _parse_cron(_fields_of_text(text))
    # The calendar repeats every 400 years, so a date that fits appears within 400 of them.
    if _next_day(spec, date(2000, 1, 1), until_year=2399) is None:
        raise _Bad("it matches no date")
    return spec


def _check_expression(expression: Any) -> str:
    """Return the normalised cron ``expression`` or raise a ``ScheduleError`` with the reason."""
    text = " ".join(expression.split()) if isinstance(expression, str) else ""
    try:
        if not isinstance(expression, str):
            raise _Bad("it is not a string")
        _spec_of(text)
        return text
    except _Bad as exc:
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
        return _spec_of(self.expression)

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
