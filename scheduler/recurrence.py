"""Recurrence schedules (Azure ML's ``ScheduleRecurrence``): pure, time-zone aware fire times.

No clock reads and no I/O: callers pass times in; fire times come back as aware UTC
datetimes. A naive datetime (``start_time``, or a query's ``after``/``start``/``end``) is a
wall time in the schedule's ``time_zone``. The rules are Azure's (``ScheduleRecurrence``, and
the start-time tables of Azure Logic Apps and Azure Scheduler):

* ``start_time`` is the first possible fire and the anchor of every interval, on the wall
  clock of ``time_zone``; nothing fires before it. ``Minute``, ``Hour``, ``Month``, and
  ``Day``/``Week`` without times of day fire first at the start itself; with ``hours``,
  ``minutes`` or ``time_of_day``, at the first of those times at or after it. A start in
  the past keeps its anchoring: the next fire is the next time computed from it. Without
  ``start_time`` intervals count from 1970-01-01 00:00 wall time (weeks from Monday
  1969-12-29): every 15 minutes fires at :00, :15, :30 and :45 local, daily at 00:00.
* ``Minute``/``Hour``: the wall times ``start + k * interval``. Hourly from 09:00 fires at
  :00 local in every zone (Lord Howe and Kathmandu too); 24h from 02:00 at 02:00 local, in
  winter and in summer.
* ``Day``: every ``interval`` days from ``start_time``'s date, at each ``hours`` x
  ``minutes`` combination or at ``time_of_day``. A missing hour or minute is
  ``start_time``'s (else 0); with neither, ``start_time``'s time of day (else 00:00).
* ``Week``: a week is the seven days from ``start_time``'s date (a Sunday start: Sunday to
  Saturday), so the listed days right after the start fire; then every ``interval`` weeks.
  ``week_days`` default to ``start_time``'s weekday, else Monday. Times as for ``Day``.
* ``Month``: every ``interval`` months on ``start_time``'s day (default 1) at its time of
  day; a month without that day (the 31st in April) fires on its last day.

DST rule. A wall time that does not exist on a spring-forward day (02:30 in New York on
2026-03-08) fires once, shifted forward by the gap (03:30 local): it is never skipped. A wall
time that occurs twice on a fall-back day (01:30 in New York on 2026-11-01) fires once, at
its first occurrence (``fold=0``). One exception keeps a frequent recurrence's pace: a
``Minute`` or ``Hour`` recurrence whose interval is no longer than the change runs on the
clock through it, skipping the wall times the gap removes and firing in both occurrences of
the repeated ones (hourly in New York: 01:00 EST, 03:00 EDT in spring; 01:00 EDT, 01:00 EST,
02:00 EST in autumn). Fires resolving to one instant fire once: ``next_fire`` is strictly
increasing. Cron schedules (``headrace.scheduler.cron``) follow crontab(5) instead.
"""

from __future__ import annotations

import itertools
import re
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headrace.engine.store.durations import parse_duration
from headrace.scheduler.cron import (
    EPOCH,
    Cron,
    ScheduleError,
    did_you_mean,
    earliest_after,
    fields_of,
    fire_floor,
    scan_start,
    start_time_of,
    to_instant,
    wall_of,
    zone_named,
)
from headrace.scheduler.wall_steps import next_on_wall

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"\s*(\d{1,2}):(\d{2})\s*")
#: Where weeks are counted from without a start time: the Monday before 1970-01-01.
_FIRST_MONDAY = date(1969, 12, 29)


def _canonical_frequency(value: Any) -> str:
    names = {f.lower(): f for f in FREQUENCIES}
    if isinstance(value, str) and value.strip().lower() in names:
        return names[value.strip().lower()]
    raise ScheduleError(
        f"Recurrence: frequency={value!r} is not one of {', '.join(FREQUENCIES)}; give one of "
        f"these (any case){did_you_mean(str(value), FREQUENCIES)}"
    )


def _int_list(field: str, value: Any, top: int) -> tuple[int, ...] | None:
    """Normalise ``hours``/``minutes`` into a sorted tuple of distinct ints in 0..top."""
    if value is None:
        return None
    items = [value] if isinstance(value, int) else list(value)
    if not items or any(isinstance(v, bool) or not isinstance(v, int) for v in items):
        raise ScheduleError(
            f"Recurrence: {field}={items!r} must be a non-empty list of whole numbers; give "
            f"{field} such as [0, 12], or leave {field} unset"
        )
    if any(not 0 <= v <= top for v in items):
        raise ScheduleError(
            f"Recurrence: {field}={items!r} is out of range 0-{top}; give {field} between "
            f"0 and {top}"
        )
    return tuple(sorted(set(items)))


def _week_days(value: Any) -> tuple[str, ...] | None:
    """Normalise week days ("Mon", "monday", "Mon,Fri") to full names in week order."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    days = set()
    for item in items or [""]:
        text = item.strip().lower() if isinstance(item, str) else ""
        matches = [d for d in WEEK_DAYS if len(text) >= 2 and d.lower().startswith(text)]
        if len(matches) != 1:
            why = f"{item!r} is not a day of the week" if items else "it names no day"
            raise ScheduleError(
                f"Recurrence: week_days={items!r} is invalid: {why}; give names such as "
                f"'Monday' or 'Mon'{did_you_mean(str(item), WEEK_DAYS)}"
            )
        days.add(matches[0])
    return tuple(d for d in WEEK_DAYS if d in days)


def _hhmm(value: Any, owner: str, field: str) -> time:
    """Parse an ``HH:MM`` string or raise naming ``owner`` and ``field``."""
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise ScheduleError(
        f"{owner}: {field}={value!r} is not a time of day in HH:MM format (hour 0-23, "
        f"minute 0-59); give e.g. '02:00' or '14:30'"
    )


def _times_text(times: list[time]) -> str:
    if len(times) > 6:
        return f"{len(times)} times a day from {times[0]:%H:%M} to {times[-1]:%H:%M}"
    return "at " + ", ".join(t.strftime("%H:%M:%S" if t.second else "%H:%M") for t in times)


@dataclass(frozen=True)
class Recurrence:
    """An Azure-style recurrence: frequency, interval, hours/minutes, week days, time zone.

    Attributes:
        frequency: "Minute", "Hour", "Day", "Week" or "Month" (any case is accepted).
        interval: How many frequency units lie between fires (at least 1).
        hours: Hours of the day (0-23) to fire at; only with Day or Week.
        minutes: Minutes of the hour (0-59) to fire at; only with Day or Week.
        week_days: Days to fire on ("Monday".."Sunday", or "Mon".."Sun"); only with Week.
        time_of_day: "HH:MM" to fire at; only with Day or Week, not with hours/minutes.
        start_time: First possible fire and the anchor of intervals, weeks and month days
            (see the module docstring); naive means wall time in time_zone.
        time_zone: IANA time zone name the wall times are in.
    """

    frequency: str
    interval: int = 1
    hours: tuple[int, ...] | None = None
    minutes: tuple[int, ...] | None = None
    week_days: tuple[str, ...] | None = None
    time_of_day: str | None = None
    start_time: datetime | None = None
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "frequency", _canonical_frequency(self.frequency))
        interval = self.interval
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ScheduleError(
                f"Recurrence: interval={interval!r} must be a whole number of at least 1; give "
                "e.g. interval=1 for every, 2 for every other"
            )
        put(self, "hours", _int_list("hours", self.hours, 23))
        put(self, "minutes", _int_list("minutes", self.minutes, 59))
        put(self, "week_days", _week_days(self.week_days))
        if self.time_of_day is not None:
            at = _hhmm(self.time_of_day, "Recurrence", "time_of_day")
            put(self, "time_of_day", f"{at:%H:%M}")
        put(self, "start_time", start_time_of(self.start_time, "Recurrence"))
        zone_named(self.time_zone, "Recurrence")
        self._check_fields()

    def _check_fields(self) -> None:
        calendar = self.frequency in ("Day", "Week")
        for field in ("hours", "minutes", "time_of_day"):
            value = getattr(self, field)
            if value is not None and not calendar:
                shown = list(value) if isinstance(value, tuple) else value
                raise ScheduleError(
                    f"Recurrence: {field}={shown!r} is only allowed with frequency 'Day' or "
                    f"'Week', not {self.frequency!r}; use frequency='Day' or drop {field}"
                )
        if self.week_days is not None and self.frequency != "Week":
            raise ScheduleError(
                f"Recurrence: week_days={list(self.week_days)!r} is only allowed with frequency "
                f"'Week', not {self.frequency!r}; use frequency='Week' or drop week_days"
            )
        if self.time_of_day is not None and (self.hours or self.minutes):
            raise ScheduleError(
                f"Recurrence: time_of_day={self.time_of_day!r} cannot be combined with hours or "
                "minutes; give either time_of_day or hours and minutes"
            )

    def _start_wall(self, zone: ZoneInfo) -> datetime | None:
        if self.start_time is None or self.start_time.tzinfo is None:
            return self.start_time
        return wall_of(self.start_time, zone)

    def _times(self, start: datetime | None) -> list[time]:
        """Times of the day a calendar frequency fires at, ascending."""
        if self.time_of_day is not None:
            return [_hhmm(self.time_of_day, "Recurrence", "time_of_day")]
        if self.hours is None and self.minutes is None:
            return [start.time().replace(tzinfo=None) if start else time(0)]
        hours = self.hours or ((start.hour,) if start else (0,))
        minutes = self.minutes or ((start.minute,) if start else (0,))
        return [time(h, m) for h in hours for m in minutes]

    def _days(self, first: date, start: datetime | None) -> Iterator[date]:
        """Dates a calendar frequency fires on, ascending, from about ``first`` on."""
        anchor = start.date() if start else EPOCH.date()
        step = self.interval
        if self.frequency == "Day":
            day = first + timedelta(days=(anchor - first).days % step)
            yield from (day + timedelta(days=k * step) for k in itertools.count())
        elif self.frequency == "Week":
            first_day = start.date() if start else _FIRST_MONDAY
            wanted = {WEEK_DAYS.index(d) for d in self._weekdays(start)}
            days = [k for k in range(7) if (first_day + timedelta(days=k)).weekday() in wanted]
            period = 7 * step
            week = first_day + timedelta(days=(first - first_day).days // period * period)
            for k in itertools.count():
                yield from (week + timedelta(days=k * period + d) for d in days)
        else:
            month_day = start.day if start else 1
            index = first.year * 12 + first.month - 1
            index += (anchor.year * 12 + anchor.month - 1 - index) % step
            for k in itertools.count(index, step):
                year, month = divmod(k, 12)
                yield date(year, month + 1, min(month_day, monthrange(year, month + 1)[1]))

    def _weekdays(self, start: datetime | None) -> tuple[str, ...]:
        return self.week_days or (WEEK_DAYS[start.weekday()] if start else "Monday",)

    def next_fire(self, after: datetime) -> datetime:
        """Return the first fire time strictly after ``after``, as an aware UTC datetime.

        Args:
            after: An aware datetime, or a naive wall time in ``time_zone``.
        """
        zone = ZoneInfo(self.time_zone)
        floor = fire_floor(after, self.start_time, zone)
        if self.frequency in ("Minute", "Hour"):
            if self.start_time is not None:
                start_instant = to_instant(self.start_time, zone, "start_time")
                if floor < start_instant:
                    return start_instant
            step = timedelta(**{self.frequency.lower() + "s": self.interval})
            return next_on_wall(self._start_wall(zone) or EPOCH, step, zone, floor)
        start = self._start_wall(zone)
        times = self._times(start)
        days = self._days(scan_start(floor, zone).date(), start)
        walls = (datetime.combine(day, t) for day in days for t in times)
        return earliest_after(walls, floor, zone)

    def describe(self) -> str:
        """Return a human description, e.g. "every 1 day at 02:00 (Europe/Berlin)"."""
        unit = self.frequency.lower() + ("" if self.interval == 1 else "s")
        parts = [f"every {self.interval} {unit}"]
        start = self._start_wall(ZoneInfo(self.time_zone))
        if self.frequency == "Week":
            parts.append("on " + ", ".join(self._weekdays(start)))
        if self.frequency == "Month":
            parts.append(f"on day {start.day if start else 1}")
        if self.frequency not in ("Minute", "Hour"):
            parts.append(_times_text(self._times(start)))
        if self.start_time is not None:
            parts.append(f"starting {self.start_time.isoformat(' ', 'minutes')}")
        return " ".join(parts) + f" ({self.time_zone})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict that ``from_dict`` turns back into an equal value."""
        as_list = lambda v: None if v is None else list(v)  # noqa: E731
        return {
            "type": "recurrence",
            "frequency": self.frequency,
            "interval": self.interval,
            "hours": as_list(self.hours),
            "minutes": as_list(self.minutes),
            "week_days": as_list(self.week_days),
            "time_of_day": self.time_of_day,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "time_zone": self.time_zone,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recurrence:
        """Build a ``Recurrence`` from ``to_dict`` output.

        Args:
            d: The dict; "type", if present, must be "recurrence".
        """
        return cls(**fields_of(d, "recurrence", cls.__dataclass_fields__))


#: Duration unit (``headrace.engine.store.durations``) -> Recurrence frequency.
_FREQUENCY_OF = {"m": "Minute", "h": "Hour", "d": "Day", "w": "Week", "mo": "Month"}


def _parse_at(at: str, frequency: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Turn ``at="02:00,14:00"`` into hours and minutes whose combinations are those times."""
    if frequency not in ("Day", "Week"):
        raise ScheduleError(
            f"parse_every: at={at!r} needs a daily or weekly schedule, not {frequency!r}; "
            "use every='1d' or every='1w', or drop at"
        )
    times = {_hhmm(part, "parse_every", "at") for part in at.split(",")}
    hours = tuple(sorted({t.hour for t in times}))
    minutes = tuple(sorted({t.minute for t in times}))
    if len(times) != len(hours) * len(minutes):
        extra = sorted({time(h, m) for h in hours for m in minutes} - times)
        raise ScheduleError(
            f"parse_every: at={at!r} cannot be written as hours x minutes (Azure's model) "
            f"without also firing at {', '.join(f'{t:%H:%M}' for t in extra)}; give times that "
            "share their minutes (e.g. '02:00,14:00'), or one schedule per time"
        )
    return hours, minutes


def parse_every(
    every: str,
    at: str | None = None,
    week_days: str | None = None,
    time_zone: str = "UTC",
    start_time: datetime | str | None = None,
) -> Recurrence:
    """Build a ``Recurrence`` from CLI-style text.

    Args:
        every: A count and a unit: "30m"/"15min", "2h", "1d", "1w" or "1mo" (count 1 if left
            out, e.g. "day").
        at: Times of the day "HH:MM[,HH:MM...]" for daily or weekly schedules; together they
            must form hours x minutes.
        week_days: Comma-separated days such as "Mon,Fri"; weekly schedules only.
        time_zone: IANA time zone name.
        start_time: A datetime or ISO 8601 string; see ``Recurrence.start_time``.

    Returns:
        The recurrence.
    """
    frequency, interval = _every(every)
    hours, minutes = _parse_at(at, frequency) if at is not None else (None, None)
    if week_days is not None and frequency != "Week":
        raise ScheduleError(
            f"parse_every: week_days={week_days!r} needs a weekly schedule, not every={every!r}; "
            "use every='1w', or drop week_days"
        )
    days = tuple(week_days.split(",")) if week_days is not None else None
    start = start_time_of(start_time, "parse_every")
    return Recurrence(frequency, interval, hours, minutes, days, None, start, time_zone)


def _every(every: str) -> tuple[str, int]:
    """The frequency and interval of "30m", "2h", "1d", "1w", "1mo" or "day" (a count of 1)."""
    try:
        duration = parse_duration(every, default_amount=1)
    except ValueError:
        duration = None
    if (
        duration is None
        or duration.unit not in _FREQUENCY_OF
        or duration.amount < 1
        or not float(duration.amount).is_integer()
    ):
        raise ScheduleError(
            f"parse_every: every={every!r} is not a duration; give a positive count and a unit "
            "such as '30m', '2h', '1d', '1w' or '1mo'"
        )
    return _FREQUENCY_OF[duration.unit], int(duration.amount)


def schedule_from_dict(d: dict[str, Any]) -> Recurrence | Cron:
    """Rebuild a schedule from ``to_dict`` output, by its "type" key.

    Args:
        d: A dict written by ``Recurrence.to_dict`` or ``Cron.to_dict``.

    Returns:
        The ``Recurrence`` or ``Cron``.
    """
    kinds: dict[str, type[Recurrence] | type[Cron]] = {"recurrence": Recurrence, "cron": Cron}
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in kinds:
        raise ScheduleError(
            f"schedule: type={kind!r} is not 'recurrence' or 'cron'; give a dict written by "
            f"to_dict(){did_you_mean(str(kind), kinds)}"
        )
    return kinds[kind].from_dict(d)


def fires_between(
    schedule: Recurrence | Cron, start: datetime, end: datetime, limit: int | None = None
) -> list[datetime]:
    """Return every fire time ``t`` with ``start < t <= end``, ascending (for catch-up).

    Args:
        schedule: A ``Recurrence`` or ``Cron``.
        start: Exclusive lower bound; naive means wall time in the schedule's time zone.
        end: Inclusive upper bound; naive means wall time in the schedule's time zone.
        limit: Stop after this many fire times (None: no limit).

    Returns:
        Aware UTC datetimes, strictly increasing.
    """
    if limit is not None and limit < 0:
        raise ScheduleError(f"fires_between: limit={limit!r} is negative; give 0 or more, or None")
    last = to_instant(end, ZoneInfo(schedule.time_zone), "end")
    fires: list[datetime] = []
    current = schedule.next_fire(start)
    while current <= last and (limit is None or len(fires) < limit):
        fires.append(current)
        current = schedule.next_fire(current)
    return fires
