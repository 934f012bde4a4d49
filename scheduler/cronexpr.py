"""crontab(5) expressions: the five fields parsed into the values they allow, and day matching.

See :mod:`headrace.scheduler.cron` for the rules (Vixie/Debian cron's) and the DST walk.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from .errors import did_you_mean

# --- parsing --------------------------------------------------------------

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


class InvalidCron(Exception):
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
        raise InvalidCron(f"{name} value {text!r} is not {kind}{did_you_mean(text, names)}")
    if not low <= int(text) <= high:
        raise InvalidCron(f"{name} value {text} is out of range {low}-{high}")
    return int(text)


def _range(term: str, index: int) -> range:
    """The values of one list item without special characters: ``*``, N, N-M, with /S."""
    name, (low, high) = FIELD_NAMES[index], _BOUNDS[index]
    base, slash, step_text = term.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
            raise InvalidCron(
                f"{name} step {step_text!r} in {term!r} is not a whole number 1 or more"
            )
        step = int(step_text)
    if base == "*" or (base == "?" and index in (2, 4)):
        return range(low, high + 1, step)
    first, dash, last = base.partition("-")
    start = _value(first, index)
    end = _value(last, index) if dash else high if slash else start
    if start > end:
        raise InvalidCron(
            f"{name} range {base!r} runs backwards; cron has no wrap-around ranges, write "
            f"{_unwrapped(start, end, step, index)!r}"
        )
    return range(start, end + 1, step)


def _unwrapped(start: int, end: int, step: int, index: int) -> str:
    """What a backwards range ``start-end/step`` would mean read as a wrap-around, in cron
    that accepts it: two ranges, or (with a step, whose count runs on across the wrap) the
    values themselves; day of week 7 is Sunday, 0."""
    low, high = _BOUNDS[index]
    top = 6 if index == 4 else high
    if index == 4 and start == 7:
        start = 0
    if start <= end:
        values = list(range(start, end + 1))
    else:
        values = list(range(start, top + 1)) + list(range(low, end + 1))
    if step > 1:
        return ",".join(str(v) for v in values[::step])
    if start <= end:
        return f"{start}-{end}" if start != end else f"{start}"
    parts = ((start, top), (low, end))
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in parts)


def _refuse_random(term: str, name: str) -> None:
    if term.startswith("R"):
        raise InvalidCron(
            f"{name} {term!r}: croniter's random 'R' is not supported, as a schedule must "
            "fire at the same times each time it is asked; give a number"
        )
    if term.startswith("H"):
        raise InvalidCron(f"{name} {term!r}: hashed 'H' values are not supported; give a number")


def _day_of_month_item(term: str, spec: dict[str, Any]) -> None:
    """Add one day-of-month list item (with ``L``, ``LW`` and ``nW``) to ``spec``."""
    if term == "L":
        spec["dom_last"] = True
    elif term == "LW":
        spec["dom_last_weekday"] = True
    elif match := _NEAREST.fullmatch(term):
        spec["dom_nearest"].add(_value(match[1], 2))
    elif "L" in term or "W" in term:
        raise InvalidCron(
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
            raise InvalidCron(f"day-of-week {term!r}: the week after '#' must be 1 to 5")
        spec["dow_nth"].add((_value(match[1], 4) % 7, int(nth)))
    elif match := _LAST_DOW.fullmatch(term):
        spec["dow_last"].add(_value(match[1] or match[2], 4) % 7)
    elif "L" in term or "#" in term:
        raise InvalidCron(
            f"day-of-week {term!r} is not a day with L (such as 5L, the last Friday) or with "
            "# (such as 5#2, the second Friday); L and # take no range or step"
        )
    else:
        spec["dows"].update(v % 7 for v in _range(term, 4))


def _parse_cron(fields: list[str]) -> CronSpec:
    """Parse the five fields of a cron expression (raises ``InvalidCron`` with the reason)."""
    spec: dict[str, Any] = {
        key: set()
        for key in ("minutes", "hours", "months", "doms", "dom_nearest", "dows", "dow_last")
    }
    spec.update(dom_last=False, dom_last_weekday=False, dow_nth=set())
    for index, text in enumerate(fields):
        for term in text.upper().split(","):
            if not term:
                raise InvalidCron(f"{FIELD_NAMES[index]} {text!r} has an empty list item")
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


def next_day(spec: CronSpec, day: date, until_year: int = 9999) -> date | None:
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


def _fields_of_text(text: str) -> list[str]:
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise InvalidCron(
                f"{text!r} is not a schedule alias; give one of {', '.join(ALIASES)}"
                f"{did_you_mean(text, ALIASES)}"
            )
        return ALIASES[text.lower()].split()
    fields = text.split()
    if len(fields) == 6:
        raise InvalidCron(
            "it has 6 fields, not 5: headrace takes the five standard fields minute hour "
            "day-of-month month day-of-week and no seconds field (croniter reads seconds as a "
            "6th field, Quartz as a 1st); drop the seconds"
        )
    if len(fields) != 5:
        raise InvalidCron(f"it has {len(fields)} fields, not 5")
    return fields


@functools.lru_cache(maxsize=512)
def spec_of(text: str) -> CronSpec:
    """Parse a normalised expression and check that it matches some date."""
    spec = _parse_cron(_fields_of_text(text))
    # The calendar repeats every 400 years, so a date that fits appears within 400 of them.
    if next_day(spec, date(2000, 1, 1), until_year=2399) is None:
        raise InvalidCron("it matches no date")
    return spec
