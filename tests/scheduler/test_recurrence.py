"""Tests for recurrence and cron schedules: validation, frequencies, DST, round trips."""

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headrace.scheduler.recurrence import (
    Cron,
    Recurrence,
    ScheduleError,
    fires_between,
    parse_every,
    schedule_from_dict,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local_walls(fires: list[datetime], zone: ZoneInfo) -> list[str]:
    return [f.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for f in fires]


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frequency": "Dayly"}, r"frequency='Dayly' is not one of .*did you mean 'Day'"),
        ({"frequency": 3}, r"frequency=3 is not one of Minute, Hour, Day, Week, Month"),
        ({"frequency": "Day", "interval": 0}, r"interval=0 must be a whole number of at least 1"),
        ({"frequency": "Day", "interval": True}, r"interval=True must be a whole number"),
        ({"frequency": "Day", "interval": 1.5}, r"interval=1.5 must be a whole number"),
        ({"frequency": "Day", "hours": (25,)}, r"hours=\[25\] is out of range 0-23; give hours"),
        ({"frequency": "Day", "minutes": (60,)}, r"minutes=\[60\] is out of range 0-59"),
        ({"frequency": "Day", "hours": ()}, r"hours=\[\] must be a non-empty list"),
        ({"frequency": "Day", "hours": ("2",)}, r"hours=\['2'\] must be a non-empty list of whole"),
        ({"frequency": "Hour", "hours": (1,)}, r"hours=\[1\] is only allowed with frequency 'Day'"),
        ({"frequency": "Minute", "minutes": (5,)}, r"minutes=\[5\] is only allowed with freq"),
        ({"frequency": "Month", "time_of_day": "02:00"}, r"time_of_day='02:00' is only allowed"),
        ({"frequency": "Day", "week_days": ("Mon",)}, r"week_days=\['Monday'\] is only allowed"),
        (
            {"frequency": "Day", "time_of_day": "02:00", "hours": (3,)},
            r"time_of_day='02:00' cannot be combined with hours or minutes",
        ),
        ({"frequency": "Day", "time_of_day": "2pm"}, r"time_of_day='2pm' is not a time of day in"),
        ({"frequency": "Day", "time_of_day": "24:00"}, r"time_of_day='24:00' is not a time"),
        ({"frequency": "Day", "time_of_day": "12:60"}, r"time_of_day='12:60' is not a time"),
        (
            {"frequency": "Week", "week_days": ("Mondy",)},
            r"week_days=\['Mondy'\] is invalid: 'Mondy' is not a day.*did you mean 'Monday'",
        ),
        (
            {"frequency": "Week", "week_days": ()},
            r"week_days=\[\] is invalid: it names no day; give names",
        ),
        ({"frequency": "Day", "time_zone": "Mars/Base"}, r"time_zone='Mars/Base' is not a known"),
        (
            {"frequency": "Day", "time_zone": "europe/berlin"},
            r"time_zone='europe/berlin'.*did you mean 'Europe/Berlin'",
        ),
        ({"frequency": "Day", "start_time": "yesterday"}, r"start_time='yesterday' is not a date"),
    ],
)
def test_recurrence_rejects_invalid_fields(kwargs, match):
    with pytest.raises(ScheduleError, match=match):
        Recurrence(**kwargs)


def test_schedule_error_is_a_value_error():
    assert issubclass(ScheduleError, ValueError)


@pytest.mark.parametrize(
    ("expression", "match"),
    [
        ("61 * * * *", r"expression='61 \* \* \* \*' is not a valid cron expression \(.*range"),
        ("* * * *", r"\(it has 4 fields, not 5\)"),
        ("* * * * * * 2030", r"\(it has 7 fields, not 5\)"),
        ("0 0 12 * * *", r"\(it has 6 fields, not 5: headrace takes the five standard fields"),
        ("0 0 30 2 *", r"\(it matches no date\)"),
        ("0 0 * * Funday", r"expression='0 0 \* \* Funday' is not a valid cron"),
        (5, r"expression=5 is not a valid cron expression \(it is not a string\)"),
    ],
)
def test_cron_rejects_invalid_expressions(expression, match):
    with pytest.raises(ScheduleError, match=match):
        Cron(expression)


def test_cron_rejects_unknown_time_zone():
    with pytest.raises(ScheduleError, match=r"Cron: time_zone='Nowhere/City' is not a known"):
        Cron("0 2 * * *", time_zone="Nowhere/City")


def test_names_are_normalised():
    rec = Recurrence("WEEK", week_days=("fri", "Mon", "tuesday", "mon"), hours=(14, 2, 14))
    assert rec.frequency == "Week"
    assert rec.week_days == ("Monday", "Tuesday", "Friday")
    assert rec.hours == (2, 14)
    assert Recurrence("day", time_of_day="7:05").time_of_day == "07:05"
    assert Cron("  0  2 * *   * ").expression == "0 2 * * *"


# --- frequencies ----------------------------------------------------------------------------


def test_minute_without_start_aligns_to_the_quarter_hour():
    rec = Recurrence("Minute", 15)
    assert rec.next_fire(utc(2026, 5, 4, 10, 7)) == utc(2026, 5, 4, 10, 15)
    assert rec.next_fire(utc(2026, 5, 4, 10, 15)) == utc(2026, 5, 4, 10, 30)


def test_minute_with_start_time_counts_from_it():
    rec = Recurrence("Minute", 10, start_time=utc(2026, 5, 4, 10, 7))
    assert rec.next_fire(utc(2026, 1, 1)) == utc(2026, 5, 4, 10, 7)
    assert rec.next_fire(utc(2026, 5, 4, 10, 7)) == utc(2026, 5, 4, 10, 17)
    assert rec.next_fire(utc(2026, 5, 4, 11, 0)) == utc(2026, 5, 4, 11, 7)


def test_hour_interval_counts_from_start_time():
    rec = Recurrence("Hour", 2, start_time=datetime(2026, 1, 1, 1, 0))
    assert rec.next_fire(utc(2026, 1, 1, 4, 30)) == utc(2026, 1, 1, 5, 0)


def test_hourly_runs_on_the_clock_across_dst():
    rec = Recurrence("Hour", time_zone="America/New_York")
    spring = fires_between(rec, utc(2026, 3, 8, 5), utc(2026, 3, 8, 9))
    assert spring == [utc(2026, 3, 8, h) for h in (6, 7, 8, 9)]
    assert local_walls(spring, NY)[:2] == ["2026-03-08 01:00 EST", "2026-03-08 03:00 EDT"]
    fall = fires_between(rec, utc(2026, 11, 1, 4), utc(2026, 11, 1, 7))
    assert local_walls(fall, NY) == [
        "2026-11-01 01:00 EDT",
        "2026-11-01 01:00 EST",
        "2026-11-01 02:00 EST",
    ]


def test_daily_at_time_of_day_in_time_zone():
    rec = Recurrence("Day", time_of_day="02:00", time_zone="Europe/Berlin")
    assert rec.next_fire(utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 1)
    assert rec.next_fire(utc(2026, 7, 10, 12)) == utc(2026, 7, 11, 0)


def test_daily_fires_at_every_hour_and_minute_combination():
    rec = Recurrence("Day", hours=(14, 2), minutes=(30, 0))
    fires = fires_between(rec, utc(2026, 1, 1), utc(2026, 1, 2))
    assert fires == [utc(2026, 1, 1, h, m) for h, m in ((2, 0), (2, 30), (14, 0), (14, 30))]


def test_daily_takes_missing_parts_from_start_time():
    start = datetime(2026, 1, 1, 9, 45)
    assert Recurrence("Day", start_time=start).next_fire(utc(2026, 1, 2)) == utc(2026, 1, 2, 9, 45)
    hours_only = Recurrence("Day", hours=(3,), start_time=start)
    assert hours_only.next_fire(utc(2026, 1, 2)) == utc(2026, 1, 2, 3, 45)
    assert Recurrence("Day", minutes=(5,)).next_fire(utc(2026, 1, 2, 1)) == utc(2026, 1, 3, 0, 5)


def test_daily_interval_counts_days_from_start_date():
    rec = Recurrence("Day", 3, time_of_day="02:00", start_time=datetime(2026, 1, 1, 10))
    fires = fires_between(rec, utc(2025, 12, 1), utc(2026, 1, 12))
    assert fires == [utc(2026, 1, d, 2) for d in (4, 7, 10)]


def test_daily_interval_without_start_anchors_at_1970():
    rec = Recurrence("Day", 2)
    fire = rec.next_fire(utc(2026, 1, 1, 12))
    assert (fire.date() - date(1970, 1, 1)).days % 2 == 0
    assert fire - utc(2026, 1, 1, 12) <= timedelta(days=2)


def test_weekly_on_week_days():
    rec = Recurrence("Week", week_days=("Mon", "Fri"), time_of_day="09:00")
    fires = fires_between(rec, utc(2026, 1, 1), utc(2026, 1, 13))  # 2026-01-01 is a Thursday
    assert fires == [utc(2026, 1, d, 9) for d in (2, 5, 9, 12)]


def test_weekly_defaults_to_start_weekday_or_monday():
    start = datetime(2026, 1, 7, 8, 30)  # a Wednesday
    rec = Recurrence("Week", start_time=start)
    assert rec.next_fire(utc(2026, 1, 8)) == utc(2026, 1, 14, 8, 30)
    assert Recurrence("Week").next_fire(utc(2026, 1, 7)) == utc(2026, 1, 12)


def test_weekly_interval_counts_weeks_from_the_start_date():
    # A Wednesday start: its week is Wednesday 7 to Tuesday 13, then every other such week.
    # (Monday-based weeks skipped Tuesday the 13th and fired on the 20th, a skipped week.)
    rec = Recurrence("Week", 2, week_days=("Tue", "Sun"), hours=(6,), start_time=utc(2026, 1, 7))
    fires = fires_between(rec, utc(2026, 1, 1), utc(2026, 2, 1))
    assert fires == [utc(2026, 1, d, 6) for d in (11, 13, 25, 27)]


def test_monthly_on_month_end_falls_back_to_last_day():
    rec = Recurrence("Month", start_time=datetime(2026, 1, 31, 9, 0))
    fires = fires_between(rec, utc(2026, 1, 1), utc(2026, 5, 1))
    assert fires == [
        utc(2026, 1, 31, 9),
        utc(2026, 2, 28, 9),
        utc(2026, 3, 31, 9),
        utc(2026, 4, 30, 9),
    ]
    assert rec.next_fire(utc(2028, 2, 1)) == utc(2028, 2, 29, 9)


def test_monthly_interval_and_default_day():
    assert Recurrence("Month").next_fire(utc(2026, 1, 1)) == utc(2026, 2, 1)
    rec = Recurrence("Month", 3, start_time=datetime(2026, 2, 15, 12))
    assert fires_between(rec, utc(2026, 3, 1), utc(2026, 12, 1)) == [
        utc(2026, 5, 15, 12),
        utc(2026, 8, 15, 12),
        utc(2026, 11, 15, 12),
    ]


def test_never_fires_before_start_time_but_fires_at_it():
    rec = Recurrence("Day", time_of_day="02:00", start_time=datetime(2026, 6, 1, 2, 0))
    assert rec.next_fire(utc(2020, 1, 1)) == utc(2026, 6, 1, 2)
    late = Recurrence("Day", time_of_day="02:00", start_time=datetime(2026, 6, 1, 3, 0))
    assert late.next_fire(utc(2020, 1, 1)) == utc(2026, 6, 2, 2)
    cron = Cron("0 * * * *", start_time=utc(2026, 6, 1, 5, 30))
    assert cron.next_fire(utc(2026, 1, 1)) == utc(2026, 6, 1, 6)


def test_aware_start_time_is_read_in_the_schedule_zone():
    start = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # Tuesday 00:30 in Berlin
    rec = Recurrence("Week", start_time=start, time_zone="Europe/Berlin")
    assert rec.next_fire(start) == datetime(2026, 1, 13, 0, 30, tzinfo=BERLIN)


def test_naive_after_is_a_wall_time_in_the_zone():
    rec = Recurrence("Day", time_of_day="09:00", time_zone="America/New_York")
    assert rec.next_fire(datetime(2026, 1, 5, 8, 59)) == utc(2026, 1, 5, 14)


# --- DST ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("America/New_York", date(2026, 3, 8), "2026-03-08 03:30 EDT"),
        ("Europe/Berlin", date(2026, 3, 29), "2026-03-29 03:30 CEST"),
    ],
)
def test_spring_forward_gap_fires_once_shifted_by_the_gap(zone, day, expected):
    tz = ZoneInfo(zone)
    schedules = [
        Recurrence("Day", time_of_day="02:30", time_zone=zone),
        Recurrence("Week", week_days=("Sunday",), hours=(2,), minutes=(30,), time_zone=zone),
        Cron("30 2 * * *", time_zone=zone),
    ]
    start = datetime.combine(day, time(0), tz)
    for schedule in schedules:
        fires = fires_between(schedule, start, start + timedelta(days=1))
        assert local_walls(fires, tz) == [expected], schedule


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        ("America/New_York", date(2026, 11, 1), "01:30", "2026-11-01 01:30 EDT"),
        ("Europe/Berlin", date(2026, 10, 25), "02:30", "2026-10-25 02:30 CEST"),
    ],
)
def test_fall_back_repeated_time_fires_once_at_first_occurrence(zone, day, wall, expected):
    tz = ZoneInfo(zone)
    hour, minute = map(int, wall.split(":"))
    schedules = [
        Recurrence("Day", time_of_day=wall, time_zone=zone),
        Recurrence("Week", week_days=("Sun",), hours=(hour,), minutes=(minute,), time_zone=zone),
        Cron(f"{minute} {hour} * * *", time_zone=zone),
    ]
    start = datetime.combine(day, time(0), tz)
    for schedule in schedules:
        fires = fires_between(schedule, start, start + timedelta(days=1))
        assert local_walls(fires, tz) == [expected], schedule


def test_cron_every_half_hour_across_both_transitions():
    cron = Cron("*/30 * * * *", time_zone="America/New_York")
    spring = fires_between(cron, utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))
    assert local_walls(spring, NY) == [
        "2026-03-08 01:30 EST",
        "2026-03-08 03:00 EDT",
        "2026-03-08 03:30 EDT",
        "2026-03-08 04:00 EDT",
    ]
    fall = fires_between(cron, utc(2026, 11, 1, 4, 45), utc(2026, 11, 1, 7, 30))
    assert local_walls(fall, NY) == [
        "2026-11-01 01:00 EDT",
        "2026-11-01 01:30 EDT",
        "2026-11-01 01:00 EST",
        "2026-11-01 01:30 EST",
        "2026-11-01 02:00 EST",
        "2026-11-01 02:30 EST",
    ]


def test_wall_times_that_resolve_to_one_instant_fire_once():
    rec = Recurrence("Day", hours=(2, 3), minutes=(30,), time_zone="America/New_York")
    fires = fires_between(rec, utc(2026, 3, 8, 5), utc(2026, 3, 8, 12))
    assert local_walls(fires, NY) == ["2026-03-08 03:30 EDT"]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
def test_daily_matches_a_calendar_walk_over_a_whole_year(zone):
    tz = ZoneInfo(zone)
    rec = Recurrence("Day", hours=(1, 2, 3), minutes=(0, 30), time_zone=zone)
    days = [date(2026, 1, 1) + timedelta(days=k) for k in range(365)]
    walls = [
        datetime(d.year, d.month, d.day, h, m) for d in days for h in (1, 2, 3) for m in (0, 30)
    ]
    expected = sorted({w.replace(tzinfo=tz).astimezone(UTC) for w in walls})
    start = datetime(2026, 1, 1, tzinfo=tz) - timedelta(microseconds=1)
    assert fires_between(rec, start, datetime(2026, 12, 31, 23, 59, tzinfo=tz)) == expected


# --- properties -----------------------------------------------------------------------------

SCHEDULES = [
    Recurrence("Minute", 15),
    Recurrence("Hour", 5, start_time=datetime(2026, 3, 1, 1, 10), time_zone="America/New_York"),
    Recurrence("Day", time_of_day="02:30", time_zone="America/New_York"),
    Recurrence("Day", 2, hours=(1, 2, 3), minutes=(0, 30), time_zone="Europe/Berlin"),
    Recurrence("Week", 2, week_days=("Sun", "Wed"), hours=(2,), time_zone="Europe/Berlin"),
    Recurrence("Month", start_time=datetime(2025, 1, 31, 2, 30), time_zone="America/New_York"),
    Recurrence("Hour", start_time=datetime(2026, 1, 5, 9), time_zone="Australia/Lord_Howe"),
    Recurrence("Minute", 25, start_time=datetime(2026, 3, 8, 2, 30), time_zone="America/New_York"),
    Recurrence("Hour", 24, start_time=datetime(2026, 1, 1, 2, 30), time_zone="Europe/Berlin"),
    Recurrence("Hour", 2, start_time=utc(2026, 10, 25, 1, 30), time_zone="Europe/Berlin"),
    Recurrence("Minute", 30, time_zone="Australia/Lord_Howe"),
    Recurrence(
        "Week",
        2,
        week_days=("Mon", "Wed"),
        time_of_day="09:00",
        start_time=datetime(2026, 3, 1, 8),
        time_zone="Asia/Kathmandu",
    ),
    Cron("*/30 1-3 * * *", time_zone="America/New_York"),
    Cron("30 2 * * 0", time_zone="Europe/Berlin", start_time=datetime(2026, 1, 1)),
]
INSTANTS = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SCHEDULES), INSTANTS, INSTANTS)
def test_next_fire_is_after_and_monotonic(schedule, a, b):
    first, second = sorted((a, b))
    assert schedule.next_fire(first) > first
    assert schedule.next_fire(first) <= schedule.next_fire(second)
    fire = schedule.next_fire(first)
    assert schedule.next_fire(fire - timedelta(microseconds=1)) == fire


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SCHEDULES), INSTANTS, st.timedeltas(timedelta(0), timedelta(days=3)))
def test_fires_between_equals_iterating_next_fire(schedule, start, span):
    end = start + span
    expected, current = [], schedule.next_fire(start)
    while current <= end:
        expected.append(current)
        current = schedule.next_fire(current)
    fires = fires_between(schedule, start, end)
    assert fires == expected
    assert all(x < y for x, y in zip(fires, fires[1:], strict=False))


# --- fires_between, describe, round trip ----------------------------------------------------


def test_fires_between_limit_and_bounds():
    rec = Recurrence("Hour")
    assert fires_between(rec, utc(2026, 1, 1), utc(2026, 1, 2), limit=3) == [
        utc(2026, 1, 1, h) for h in (1, 2, 3)
    ]
    assert fires_between(rec, utc(2026, 1, 1), utc(2026, 1, 2), limit=0) == []
    assert fires_between(rec, utc(2026, 1, 1), utc(2026, 1, 1, 0, 59)) == []
    assert fires_between(rec, utc(2026, 1, 1, 2), utc(2026, 1, 1, 1)) == []
    with pytest.raises(ScheduleError, match=r"limit=-1 is negative"):
        fires_between(rec, utc(2026, 1, 1), utc(2026, 1, 2), limit=-1)


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (
            Recurrence("Day", time_of_day="02:00", time_zone="Europe/Berlin"),
            "every 1 day at 02:00 (Europe/Berlin)",
        ),
        (Recurrence("Minute", 15), "every 15 minutes (UTC)"),
        (
            Recurrence("Week", 2, week_days=("Fri", "Mon"), hours=(9,), minutes=(0, 30)),
            "every 2 weeks on Monday, Friday at 09:00, 09:30 (UTC)",
        ),
        (
            Recurrence("Month", start_time=datetime(2026, 1, 31, 6)),
            "every 1 month on day 31 at 06:00 starting 2026-01-31 06:00 (UTC)",
        ),
        (
            Recurrence("Day", hours=tuple(range(24))),
            "every 1 day 24 times a day from 00:00 to 23:00 (UTC)",
        ),
        (Cron("0 2 * * *", time_zone="Asia/Tokyo"), "cron '0 2 * * *' (Asia/Tokyo)"),
    ],
)
def test_describe(schedule, text):
    assert schedule.describe() == text


@pytest.mark.parametrize(
    "schedule",
    [
        Recurrence("Day", time_of_day="02:00", time_zone="Europe/Berlin"),
        Recurrence(
            "Week",
            3,
            week_days=("Mon",),
            hours=(1, 2),
            minutes=(5,),
            start_time=datetime(2026, 1, 1),
        ),
        Recurrence("Month", start_time=datetime(2026, 1, 31, 6, tzinfo=BERLIN)),
        Cron("*/5 * * * *", time_zone="America/New_York", start_time=datetime(2026, 2, 1)),
        Cron("@daily"),
    ],
)
def test_round_trip_through_json(schedule):
    stored = json.loads(json.dumps(schedule.to_dict()))
    restored = schedule_from_dict(stored)
    assert restored == schedule
    assert type(schedule).from_dict(stored) == schedule
    assert restored.next_fire(utc(2026, 3, 1)) == schedule.next_fire(utc(2026, 3, 1))


def test_from_dict_errors():
    with pytest.raises(ScheduleError, match=r"type='crn' is not 'recurrence' or 'cron'.*'cron'"):
        schedule_from_dict({"type": "crn", "expression": "* * * * *"})
    with pytest.raises(ScheduleError, match=r"type=None is not 'recurrence' or 'cron'"):
        schedule_from_dict({"expression": "* * * * *"})
    with pytest.raises(ScheduleError, match=r"unknown field 'timezone'.*did you mean 'time_zone'"):
        Recurrence.from_dict({"frequency": "Day", "timezone": "UTC"})
    with pytest.raises(ScheduleError, match=r"type='recurrence' is not 'cron'"):
        Cron.from_dict(Recurrence("Day").to_dict())


def test_cron_alias():
    assert Cron("@hourly").next_fire(utc(2026, 1, 1, 0, 0, 20)) == utc(2026, 1, 1, 1)


def test_next_fire_rejects_non_datetime():
    with pytest.raises(TypeError, match=r"after='now' must be a datetime"):
        Recurrence("Day").next_fire("now")  # type: ignore[arg-type]


# --- parse_every ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "frequency", "interval"),
    [
        ("30m", "Minute", 30),
        ("15min", "Minute", 15),
        ("2h", "Hour", 2),
        ("1d", "Day", 1),
        ("1w", "Week", 1),
        ("1mo", "Month", 1),
        (" 3 Days ", "Day", 3),
        ("hour", "Hour", 1),
    ],
)
def test_parse_every_units(every, frequency, interval):
    rec = parse_every(every)
    assert (rec.frequency, rec.interval) == (frequency, interval)


def test_parse_every_with_at_week_days_zone_and_start():
    rec = parse_every("1w", at="02:00,14:00", week_days="Mon,Fri", time_zone="Europe/Berlin")
    assert rec == Recurrence(
        "Week",
        hours=(2, 14),
        minutes=(0,),
        week_days=("Monday", "Friday"),
        time_zone="Europe/Berlin",
    )
    assert parse_every("1d", at="02:30").next_fire(utc(2026, 1, 1)) == utc(2026, 1, 1, 2, 30)
    assert parse_every("1h", start_time="2026-01-01T00:20").start_time == datetime(
        2026, 1, 1, 0, 20
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every": "0h"}, r"every='0h' is not a duration; give a positive count and a unit"),
        ({"every": "5x"}, r"every='5x' is not a duration"),
        ({"every": ""}, r"every='' is not a duration"),
        (
            {"every": "2h", "at": "02:00"},
            r"at='02:00' needs a daily or weekly schedule, not 'Hour'",
        ),
        ({"every": "1d", "week_days": "Mon"}, r"week_days='Mon' needs a weekly schedule"),
        ({"every": "1d", "at": "25:00"}, r"parse_every: at='25:00' is not a time of day in HH:MM"),
        (
            {"every": "1d", "at": "02:00,14:30"},
            r"at='02:00,14:30' cannot be written as hours x minutes .* also firing at 02:30, 14:00",
        ),
        ({"every": "1w", "week_days": "Mon,Funday"}, r"'Funday' is not a day of the week"),
        (
            {"every": "1d", "start_time": "soon"},
            r"parse_every: start_time='soon' is not a datetime",
        ),
    ],
)
def test_parse_every_errors(kwargs, match):
    with pytest.raises(ScheduleError, match=match):
        parse_every(**kwargs)
