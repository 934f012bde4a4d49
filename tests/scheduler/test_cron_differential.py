"""Differential tests: headrace's cron against cronsim, and against a brute-force DST reference.

cronsim (PyPI ``cronsim``, which follows crontab(5) and Debian cron) is an independent
parser and matcher. Two of its own slips are worked around here, not copied: it reads a
one-value range with a step (``5-5/2``) as ``5/2``, so those are rewritten to the value
before it sees them, and on the clock it steps whole hours, which goes wrong in
Australia/Lord_Howe, whose clock moves by 30 minutes, so that zone is checked only against
the brute-force reference. The reference walks every minute: every real minute for jobs
whose minute or hour field starts with ``*`` (they run on the clock, as Debian cron runs
them), every wall-clock minute resolved by ``fold=0`` for fixed-time jobs. It asks cronsim
only whether a wall time matches.
"""

from __future__ import annotations

import functools
import itertools
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim, CronSimError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from headrace.scheduler.cron import Cron, ScheduleError
from headrace.scheduler.recurrence import fires_between

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
NAMES = ((), (), (), ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
        "NOV", "DEC"), ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))  # fmt: skip
ONE_VALUE_STEP = re.compile(r"\b(\w+)-(\w+)/\d+")
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def for_cronsim(expression: str) -> str:
    """``expression`` with each ``N-N/S`` written as ``N`` (cronsim reads it as ``N/S``)."""

    def one_value(m: re.Match[str]) -> str:
        a, b = m[1].upper(), m[2].upper()
        same = a == b or (a.isdigit() and b.isdigit() and int(a) == int(b))
        return m[1] if same else m[0]

    return ONE_VALUE_STEP.sub(one_value, expression)


# --- expressions ----------------------------------------------------------------------------


VALID_FORMS = (
    "*",
    "*/{s}",
    "{a}",
    "{a}",
    "{a}-{b}",
    "{a}-{a}",
    "{a}-{b}/{s}",
    "{a}-{a}/{s}",
    "{a}/{s}",
)
EXTRA_FORMS = {2: ("L", "LW"), 4: ("{n}L", "{a}#{k}", "7", "7/{s}")}
INVALID_FORMS = ("{b}-{a}", "{high}", "R", "H", "{n}#{bad}", "*/0")


def text_of(value: int, index: int, style: int) -> str:
    """``value`` as a number, a zero-padded number, or (months, days of week) a name."""
    names, low = NAMES[index], BOUNDS[index][0]
    if style >= 2 and names and value - low < len(names):
        return (str.upper, str.lower, str.title)[style - 2](names[value - low])
    return f"{value:02d}" if style == 1 else str(value)


def term_of(index: int, forms: tuple[str, ...], draw: tuple[int, ...]) -> str:
    """Fill in one of ``forms`` for field ``index`` from a tuple of drawn numbers."""
    low, high = BOUNDS[index]
    form_index, a, b, style, step, n, k, bad = draw
    form = forms[form_index]
    a, b = sorted((a, b))
    if form == "{b}-{a}" and a == b:
        a, b = low, high
    return form.format(
        a=text_of(a, index, style),
        b=text_of(b, index, style),
        s=step,
        n=n,
        k=k,
        bad=bad,
        high=high + 1,
    )


def terms(index: int, invalid: bool) -> st.SearchStrategy[str]:
    """One list item of field ``index``: every form crontab(5) has, and the extensions."""
    low, high = BOUNDS[index]
    forms = VALID_FORMS + EXTRA_FORMS.get(index, ()) + (INVALID_FORMS if invalid else ())
    numbers = st.tuples(
        st.integers(0, len(forms) - 1),
        st.integers(low, high),
        st.integers(low, high),
        st.integers(0, 4),
        st.integers(1, high + 2),
        st.integers(low, high),
        st.integers(1, 5),
        st.sampled_from([0, 6]),
    )
    return numbers.map(functools.partial(term_of, index, forms))


def fields(index: int, invalid: bool = False) -> st.SearchStrategy[str]:
    return st.lists(terms(index, invalid), min_size=1, max_size=3).map(",".join)


VALID = st.tuples(*(fields(i) for i in range(5))).map(" ".join)
INVALID = st.tuples(*(fields(i, invalid=True) for i in range(5))).map(" ".join)


def expressions(invalid: bool = True) -> st.SearchStrategy[str]:
    """Cron expressions; with ``invalid``, one in five may break a rule."""
    return st.one_of(VALID, VALID, VALID, VALID, INVALID) if invalid else VALID


def dense_expressions() -> st.SearchStrategy[str]:
    """Valid expressions that mostly fire every day: the day fields are mostly ``*``."""
    day_fields = [st.one_of(st.just("*"), st.just("*"), st.just("*"), fields(i)) for i in (2, 3, 4)]
    return st.tuples(fields(0), fields(1), *day_fields).map(" ".join)


def transitions(zone: ZoneInfo) -> list[datetime]:
    """The instants 2000-2040 at which ``zone``'s UTC offset changes (to the second)."""
    found, t = [], datetime(2000, 1, 1, tzinfo=UTC)
    while t.year < 2040:
        step = t + timedelta(days=1)
        if step.astimezone(zone).utcoffset() != t.astimezone(zone).utcoffset():
            low, high = t, step
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                same = mid.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (mid, high) if same else (low, mid)
            found.append(high)
        t = step
    return found


TRANSITIONS = {name: transitions(ZoneInfo(name)) for name in ZONES}
NAIVE = st.datetimes(datetime(2000, 1, 1), datetime(2045, 12, 31))


@st.composite
def zoned_starts(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and an instant, mostly within a day before one of the zone's DST changes."""
    zone = draw(st.sampled_from(ZONES))
    near = TRANSITIONS[zone]
    if near and draw(st.integers(0, 4)) > 0:
        change = draw(st.sampled_from(near))
        return zone, change + timedelta(seconds=draw(st.integers(-22 * 3600, 4 * 3600)))
    return zone, draw(NAIVE).replace(tzinfo=UTC)


# --- against cronsim, on wall times (UTC has no DST) ----------------------------------------


def check_against_cronsim(expression: str, start: datetime, n: int = 5) -> None:
    try:
        theirs: list[datetime] | None = list(
            itertools.islice(CronSim(for_cronsim(expression), start), n)
        )
    except CronSimError:
        theirs = None
    try:
        cron = Cron(expression)
    except ScheduleError as exc:
        assert theirs in (None, []), f"{expression!r}: cronsim accepts it, we say {exc}"
        return
    ours, current = [], start.replace(tzinfo=UTC)
    for _ in range(n):
        current = cron.next_fire(current)
        ours.append(current.replace(tzinfo=None))
    assert theirs is not None, f"{expression!r}: cronsim refuses it, we fire at {ours}"
    if not theirs:  # cronsim gives up after 50 years
        assert ours[0].year > start.year + 50, expression
    assert ours[: len(theirs)] == theirs, expression


@settings(FAST, max_examples=3000)
@given(expressions(), NAIVE)
def test_same_fire_times_as_cronsim(expression, start):
    check_against_cronsim(expression, start)


@pytest.mark.slow
@settings(FAST, max_examples=10000)
@given(expressions(), NAIVE)
def test_same_fire_times_as_cronsim_long(expression, start):
    check_against_cronsim(expression, start)


@settings(FAST, max_examples=300)
@given(expressions(invalid=False), st.sampled_from(["0", "*", "*/15"]), st.booleans())
def test_a_seconds_field_is_always_refused(expression, seconds, first):
    six = f"{seconds} {expression}" if first else f"{expression} {seconds}"
    with pytest.raises(ScheduleError, match=r"it has 6 fields, not 5: headrace takes the five"):
        Cron(six)


# --- against a brute-force reference, across DST changes ------------------------------------


def reference(expression: str, zone_name: str, start: datetime, end: datetime) -> list[datetime]:
    """Every fire in (start, end] by walking minutes; cronsim only says which walls match."""
    zone, sim = ZoneInfo(zone_name), CronSim(for_cronsim(expression), datetime(2000, 1, 1))

    def matches(wall: datetime) -> bool:
        return (
            wall.minute in sim.minutes
            and wall.hour in sim.hours
            and wall.month in sim.months
            and sim.match_day(wall.date())
        )

    minute = timedelta(minutes=1)
    first = start.replace(second=0, microsecond=0) + minute
    minute_field, hour_field = expression.split()[:2]
    if minute_field.startswith("*") or hour_field.startswith("*"):  # on the clock
        instants = (first + k * minute for k in range(int((end - first) / minute) + 1))
        return [t for t in instants if matches(t.astimezone(zone).replace(tzinfo=None))]
    low = first.astimezone(zone).replace(tzinfo=None) - timedelta(hours=3)
    walls = (low + k * minute for k in range(int((end - start) / minute) + 6 * 60))
    resolved = {w.replace(tzinfo=zone).astimezone(UTC) for w in walls if matches(w)}
    return sorted(t for t in resolved if start < t <= end)


def cron_or_skip(expression: str, zone: str) -> Cron:
    try:
        return Cron(expression, zone)
    except ScheduleError:  # matches no date, such as "* * 31 2 *"
        assume(False)
        raise


def check_against_reference(expression: str, zone: str, start: datetime) -> None:
    end = start + timedelta(hours=30)
    assert fires_between(cron_or_skip(expression, zone), start, end) == reference(
        expression, zone, start, end
    ), (expression, zone, start)


@settings(FAST, max_examples=500)
@given(dense_expressions(), zoned_starts())
def test_same_fires_as_a_minute_by_minute_walk_across_dst(expression, zoned):
    check_against_reference(expression, *zoned)


@pytest.mark.slow
@settings(FAST, max_examples=2000)
@given(dense_expressions(), zoned_starts())
def test_same_fires_as_a_minute_by_minute_walk_across_dst_long(expression, zoned):
    check_against_reference(expression, *zoned)


# --- against cronsim on the clock, where its whole-hour steps are right ---------------------


def check_on_the_clock(expression: str, zone: str, start: datetime, n: int = 6) -> None:
    cron = cron_or_skip(expression, zone)
    if not cron.spec.on_the_clock or zone == "Australia/Lord_Howe":
        return
    sim = CronSim(for_cronsim(expression), start.astimezone(ZoneInfo(zone)))
    theirs = [t.astimezone(UTC) for t in itertools.islice(sim, n)]
    ours, current = [], start
    for _ in range(len(theirs)):
        current = cron.next_fire(current)
        ours.append(current)
    assert ours == theirs, (expression, zone, start)


@settings(FAST, max_examples=800)
@given(dense_expressions(), zoned_starts())
def test_on_the_clock_same_fires_as_cronsim(expression, zoned):
    check_on_the_clock(expression, *zoned)


@pytest.mark.slow
@settings(FAST, max_examples=3000)
@given(dense_expressions(), zoned_starts())
def test_on_the_clock_same_fires_as_cronsim_long(expression, zoned):
    check_on_the_clock(expression, *zoned)
