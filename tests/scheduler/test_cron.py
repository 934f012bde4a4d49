"""Cron expressions as crontab(5) reads them: each croniter misreading pinned, errors, DST."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from headrace.scheduler.cron import ALIASES, Cron, ScheduleError, cron_walls
from headrace.scheduler.recurrence import fires_between

NY = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"  # DST moves the clock by 30 minutes


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fires(expression: str, after: datetime, n: int = 4, zone: str = "UTC") -> list[str]:
    """The next ``n`` fire times after ``after``, as local wall times with weekday and zone."""
    cron, tz, out = Cron(expression, zone), ZoneInfo(zone), []
    current = after if after.tzinfo else after.replace(tzinfo=tz)
    for _ in range(n):
        current = cron.next_fire(current)
        out.append(current.astimezone(tz).strftime("%Y-%m-%d %a %H:%M %Z"))
    return out


def between(expression: str, zone: str, start: datetime, end: datetime) -> list[str]:
    tz = ZoneInfo(zone)
    return [
        f.astimezone(tz).strftime("%m-%d %H:%M %Z")
        for f in fires_between(Cron(expression, zone), start, end)
    ]


JAN_1 = utc(2026, 1, 1)  # a Thursday


# --- what croniter 5.0 to 7.0 misread -------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 9-9 * * *", ["2026-01-01 Thu 09:00 UTC", "2026-01-02 Fri 09:00 UTC"]),
        ("0 0 31-31 * *", ["2026-01-31 Sat 00:00 UTC", "2026-03-31 Tue 00:00 UTC"]),
        ("0 0 * * 6-6", ["2026-01-03 Sat 00:00 UTC", "2026-01-10 Sat 00:00 UTC"]),
        ("0 0 * * sat-sat", ["2026-01-03 Sat 00:00 UTC", "2026-01-10 Sat 00:00 UTC"]),
        ("0 9-9/5 * * *", ["2026-01-01 Thu 09:00 UTC", "2026-01-02 Fri 09:00 UTC"]),
    ],
)
def test_a_one_value_range_is_that_value_not_every_value(expression, expected):
    assert fires(expression, JAN_1, 2) == expected


def test_a_one_value_range_inside_a_list():
    assert fires("2,59-59,15 * * * *", JAN_1, 4) == [
        "2026-01-01 Thu 00:02 UTC",
        "2026-01-01 Thu 00:15 UTC",
        "2026-01-01 Thu 00:59 UTC",
        "2026-01-01 Thu 01:02 UTC",
    ]


def test_a_one_value_range_with_a_step_is_that_value():
    # December only (croniter: January and September); every day of it at midnight
    got = fires("0 0 * 12-12/8 *", JAN_1, 3)
    assert got == [
        "2026-12-01 Tue 00:00 UTC",
        "2026-12-02 Wed 00:00 UTC",
        "2026-12-03 Thu 00:00 UTC",
    ]
    assert fires("0 0 * 12-12/8 *", utc(2026, 12, 31), 1) == ["2027-12-01 Wed 00:00 UTC"]


def test_a_day_field_starting_with_a_star_is_unrestricted_so_the_days_are_anded():
    # odd days of the month that are Mondays (croniter: odd days, or Mondays)
    assert fires("0 0 */2 * 1", JAN_1, 4) == [
        "2026-01-05 Mon 00:00 UTC",
        "2026-01-19 Mon 00:00 UTC",
        "2026-02-09 Mon 00:00 UTC",
        "2026-02-23 Mon 00:00 UTC",
    ]
    # the first Sunday of each month: */7 is 0,7, Sunday, and starts with "*"
    assert fires("1 1 1-7 * */7", JAN_1, 3) == [
        "2026-01-04 Sun 01:01 UTC",
        "2026-02-01 Sun 01:01 UTC",
        "2026-03-01 Sun 01:01 UTC",
    ]
    # a list starting with "*" counts as "*" too (Vixie tests the first character)
    assert fires("0 0 */100,1-7 * MON", JAN_1, 2) == [
        "2026-01-05 Mon 00:00 UTC",
        "2026-02-02 Mon 00:00 UTC",
    ]


def test_two_restricted_day_fields_are_ored():
    assert fires("0 0 1,15 * 5", JAN_1, 4) == [
        "2026-01-02 Fri 00:00 UTC",
        "2026-01-09 Fri 00:00 UTC",
        "2026-01-15 Thu 00:00 UTC",
        "2026-01-16 Fri 00:00 UTC",
    ]


def test_nth_weekday_with_a_restricted_day_of_month_is_ored():
    # the 8th, or the first Thursday (croniter: "matches no date")
    assert fires("0 0 8 * 4#1", JAN_1, 4) == [
        "2026-01-08 Thu 00:00 UTC",
        "2026-02-05 Thu 00:00 UTC",
        "2026-02-08 Sun 00:00 UTC",
        "2026-03-05 Thu 00:00 UTC",
    ]


@pytest.mark.parametrize("last_thursday", ["L4", "4L", "l4", "4l"])
def test_last_weekday_with_a_restricted_day_of_month_is_ored(last_thursday):
    # the 31st, or the last Thursday (croniter skips the 31st)
    assert fires(f"0 0 31 * {last_thursday}", JAN_1, 4) == [
        "2026-01-29 Thu 00:00 UTC",
        "2026-01-31 Sat 00:00 UTC",
        "2026-02-26 Thu 00:00 UTC",
        "2026-03-26 Thu 00:00 UTC",
    ]


def test_seven_with_a_step_is_sunday_only():
    # 7/4 is 7-7/4: Sunday (croniter: Sunday and Thursday); 0/4 is 0-7/4: Sunday, Thursday
    assert fires("0 0 * * 7/4", JAN_1, 3) == [
        "2026-01-04 Sun 00:00 UTC",
        "2026-01-11 Sun 00:00 UTC",
        "2026-01-18 Sun 00:00 UTC",
    ]
    assert fires("0 0 * * 0/4", JAN_1, 3) == [
        "2026-01-04 Sun 00:00 UTC",
        "2026-01-08 Thu 00:00 UTC",
        "2026-01-11 Sun 00:00 UTC",
    ]
    assert fires("0 0 * * 7", JAN_1, 1) == fires("0 0 * * 0", JAN_1, 1)
    assert fires("0 0 * * 5-7", JAN_1, 3) == [
        "2026-01-02 Fri 00:00 UTC",
        "2026-01-03 Sat 00:00 UTC",
        "2026-01-04 Sun 00:00 UTC",
    ]


def test_start_with_a_step_runs_to_the_end_of_the_field():
    assert fires("5/20 * * * *", JAN_1, 4) == [
        "2026-01-01 Thu 00:05 UTC",
        "2026-01-01 Thu 00:25 UTC",
        "2026-01-01 Thu 00:45 UTC",
        "2026-01-01 Thu 01:05 UTC",
    ]


@pytest.mark.parametrize(
    ("expression", "match"),
    [
        ("R * * * *", r"minute 'R': croniter's random 'R' is not supported, as a schedule must "),
        ("0 R(2-4) * * *", r"hour 'R\(2-4\)': croniter's random 'R' is not supported"),
        ("H * * * *", r"minute 'H': hashed 'H' values are not supported; give a number"),
        ("0 0 * * H/2", r"day-of-week 'H/2': hashed 'H' values are not supported"),
    ],
)
def test_random_and_hashed_values_are_refused(expression, match):
    with pytest.raises(ScheduleError, match=match):
        Cron(expression)


def test_fire_times_are_the_same_on_every_call():
    cron = Cron("*/7 3 * * mon-fri", "Europe/Berlin")
    assert {cron.next_fire(JAN_1) for _ in range(20)} == {cron.next_fire(JAN_1)}


@pytest.mark.parametrize(
    ("expression", "match"),
    [
        ("* * 5-1 * *", r"day-of-month range '5-1' runs backwards; cron has no wrap-around "),
        ("* * 5-1 * *", r"ranges, write '5-31,1'\)"),
        ("0 0 * * 6-0", r"day-of-week range '6-0' runs backwards; .* write '6,0'\)"),
        ("0 0 * * fri-mon", r"day-of-week range 'FRI-MON' runs backwards; .* write '5-6,0-1'"),
        ("50-10 * * * *", r"minute range '50-10' runs backwards; .* write '50-59,0-10'"),
        ("0 22-2/2 * * *", r"hour range '22-2' runs backwards; .* write '22,0,2'\)"),
        ("0 0 * * 7-1", r"day-of-week range '7-1' runs backwards; .* write '0-1'\)"),
        ("0 0 * * 7-0", r"day-of-week range '7-0' runs backwards; .* write '0'\)"),
        ("0 0 * * fri-mon/2", r"day-of-week range 'FRI-MON' runs backwards; .* write '5,0'\)"),
        ("0 0 1 nov-feb *", r"month range 'NOV-FEB' runs backwards; .* write '11-12,1-2'"),
    ],
)
def test_reversed_ranges_are_refused(expression, match):
    with pytest.raises(ScheduleError, match=match):
        Cron(expression)


@pytest.mark.parametrize(
    "expression",
    ["0 0 * * 7-1", "0 0 * * 7-0", "5-1/2 * * * *", "0 0 * * FRI-MON/2", "* * 5-1 * *"],
)
def test_the_rewrite_a_reversed_range_error_suggests_is_valid(expression):
    """The suggestion is accepted as it is and keeps the step (every other value, on across
    the wrap)."""
    with pytest.raises(ScheduleError) as caught:
        Cron(expression)
    hint = re.search(r"write '([^']*)'", str(caught.value))[1]
    fields = expression.split()
    at = next(i for i, f in enumerate(fields) if "-" in f)
    Cron(" ".join([*fields[:at], hint, *fields[at + 1 :]]))
    if "/2" in expression:
        assert "-" not in hint and len(hint.split(",")) > 1


@pytest.mark.parametrize("expression", ["0 0 12 * * *", "0 */5 * * * *", "* * * * * 15"])
def test_six_fields_are_refused_naming_the_five_fields_and_the_seconds(expression):
    with pytest.raises(
        ScheduleError,
        match=(
            r"\(it has 6 fields, not 5: headrace takes the five standard fields minute hour "
            r"day-of-month month day-of-week and no seconds field \(croniter reads seconds as "
            r"a 6th field, Quartz as a 1st\); drop the seconds\)"
        ),
    ):
        Cron(expression)


# --- the rest of the syntax -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "match"),
    [
        ("61 * * * *", r"\(minute value 61 is out of range 0-59\)"),
        ("0 24 * * *", r"\(hour value 24 is out of range 0-23\)"),
        ("0 0 0 * *", r"\(day-of-month value 0 is out of range 1-31\)"),
        ("0 0 * 13 *", r"\(month value 13 is out of range 1-12\)"),
        ("0 0 * * 8", r"\(day-of-week value 8 is out of range 0-7\)"),
        ("0 0 * * Funday", r"day-of-week value 'FUNDAY' is not a number 0-7 or a name such as SUN"),
        ("0 0 * Janury *", r"month value 'JANURY' is not .*; did you mean 'JAN'\?"),
        ("x * * * *", r"\(minute value 'X' is not a number 0-59\)"),
        ("¹ * * * *", r"minute value '¹' is not a number 0-59"),
        ("1-1_0 * * * *", r"minute value '1_0' is not a number"),
        ("*/0 * * * *", r"\(minute step '0' in '\*/0' is not a whole number 1 or more\)"),
        ("*/ * * * *", r"minute step '' in '\*/' is not a whole number"),
        ("1,,2 * * * *", r"\(minute '1,,2' has an empty list item\)"),
        ("* * * * 1#6", r"day-of-week '1#6': the week after '#' must be 1 to 5"),
        ("* * * * 1#0", r"day-of-week '1#0': the week after '#' must be 1 to 5"),
        ("* * * * MONL", r"day-of-week 'MONL' is not a day with L \(such as 5L, the last Friday"),
        ("* * * * 5L-6", r"day-of-week '5L-6' is not a day with L"),
        ("* * * * L", r"day-of-week 'L' is not a day with L"),
        ("* * L/2 * *", r"day-of-month 'L/2' is not L, LW or a day with W \(such as 15W\)"),
        ("* * 1-5W * *", r"day-of-month '1-5W' is not L, LW or a day with W"),
        ("* * * * *,", r"day-of-week '\*,' has an empty list item"),
        ("0 0 30 2 *", r"\(it matches no date\)"),
        ("0 0 31 4,6,9,11 *", r"\(it matches no date\)"),
        ("1 1 */100 * MON#4", r"\(it matches no date\)"),
        ("* * * *", r"\(it has 4 fields, not 5\)"),
        ("* * * * * * 2030", r"\(it has 7 fields, not 5\)"),
        ("", r"\(it has 0 fields, not 5\)"),
        ("@reboot", r"'@reboot' is not a schedule alias; give one of @yearly, @annually, "),
        ("@dayly", r"is not a schedule alias; .*; did you mean '@daily'\?"),
        (None, r"expression=None is not a valid cron expression \(it is not a string\)"),
    ],
)
def test_invalid_expressions_name_the_field_the_value_and_the_fix(expression, match):
    with pytest.raises(ScheduleError, match=match) as caught:
        Cron(expression)
    assert str(caught.value).startswith(f"Cron: expression={expression!r} is not a valid cron")
    assert str(caught.value).endswith(
        "; give 5 fields 'minute hour day-of-month month day-of-week', e.g. '0 2 * * *' for "
        "02:00 every day"
    )


@pytest.mark.parametrize(("alias", "expression"), sorted(ALIASES.items()))
def test_aliases_fire_like_their_expressions(alias, expression):
    start = utc(2026, 2, 26, 22, 30)
    assert fires(alias, start, 3) == fires(expression, start, 3)
    assert fires(alias.upper(), start, 1) == fires(expression, start, 1)


def test_aliases_fire_when_cron_runs_them():
    assert fires("@weekly", JAN_1, 1) == ["2026-01-04 Sun 00:00 UTC"]
    assert fires("@monthly", JAN_1, 1) == ["2026-02-01 Sun 00:00 UTC"]
    assert fires("@yearly", JAN_1, 1) == ["2027-01-01 Fri 00:00 UTC"]
    assert fires("@hourly", JAN_1, 1) == ["2026-01-01 Thu 01:00 UTC"]


def test_names_and_question_marks():
    assert fires("0 0 * jan-mar Mon-Fri", utc(2026, 3, 27), 3) == [
        "2026-03-30 Mon 00:00 UTC",
        "2026-03-31 Tue 00:00 UTC",
        "2027-01-01 Fri 00:00 UTC",
    ]
    assert fires("0 0 ? * 1", JAN_1, 1) == fires("0 0 * * 1", JAN_1, 1)
    assert fires("0 0 1 * ?", JAN_1, 2) == fires("0 0 1 * *", JAN_1, 2)


def test_last_day_last_weekday_and_nearest_weekday():
    assert fires("0 0 L * *", utc(2028, 1, 1), 3) == [
        "2028-01-31 Mon 00:00 UTC",
        "2028-02-29 Tue 00:00 UTC",
        "2028-03-31 Fri 00:00 UTC",
    ]
    assert fires("0 0 LW * *", JAN_1, 3) == [
        "2026-01-30 Fri 00:00 UTC",  # the 31st is a Saturday
        "2026-02-27 Fri 00:00 UTC",
        "2026-03-31 Tue 00:00 UTC",
    ]
    # 1W: August 1st 2026 is a Saturday, so Monday the 3rd (not back into July)
    assert fires("0 0 1W * *", utc(2026, 7, 2), 1) == ["2026-08-03 Mon 00:00 UTC"]
    # 15W: February 15th 2026 is a Sunday, so Monday the 16th
    assert fires("0 0 15W * *", utc(2026, 2, 1), 1) == ["2026-02-16 Mon 00:00 UTC"]
    # 30W: November 30th 2025 is a Sunday and the last day, so Friday the 28th
    assert fires("0 0 30W 11 *", utc(2025, 1, 1), 1) == ["2025-11-28 Fri 00:00 UTC"]
    # 31W in a shorter month: the weekday nearest its last day
    assert fires("0 0 31W 2 *", JAN_1, 1) == ["2026-02-27 Fri 00:00 UTC"]
    assert fires("0 0 1W,L * *", JAN_1, 2) == [
        "2026-01-31 Sat 00:00 UTC",
        "2026-02-02 Mon 00:00 UTC",
    ]


def test_fifth_weekday_skips_months_without_one():
    assert fires("0 0 * * 1#5", JAN_1, 3) == [
        "2026-03-30 Mon 00:00 UTC",
        "2026-06-29 Mon 00:00 UTC",
        "2026-08-31 Mon 00:00 UTC",
    ]
    assert fires("0 0 * * mon#2,fri#1", JAN_1, 2) == [
        "2026-01-02 Fri 00:00 UTC",
        "2026-01-12 Mon 00:00 UTC",
    ]


def test_sparse_expressions_skip_whole_years():
    cron = Cron("0 0 29 2 *")
    assert cron.next_fire(utc(2097, 3, 1)) == utc(2104, 2, 29)  # 2100 is not a leap year
    walls = cron_walls(cron.spec, datetime(2097, 3, 1))
    assert [next(walls) for _ in range(2)] == [datetime(2104, 2, 29), datetime(2108, 2, 29)]
    # Feb 29 that is a Sunday: 2032, then 2060
    assert Cron("0 0 29 2 */7").next_fire(utc(2033, 1, 1)) == utc(2060, 2, 29)


def test_no_fire_after_the_last_representable_date():
    with pytest.raises(ScheduleError, match=r"expression='0 0 1 1 \*' has no fire time after"):
        Cron("0 0 1 1 *").next_fire(utc(9999, 6, 1))
    with pytest.raises(ScheduleError, match=r"has no fire time after"):
        Cron("*/5 * * * *").next_fire(datetime(9999, 12, 31, 23, 58, tzinfo=UTC))


# --- DST ------------------------------------------------------------------------------------


def test_fixed_time_in_a_spring_forward_gap_fires_once_shifted_by_the_gap():
    assert between("30 2 * * *", NY, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)) == [
        "03-08 03:30 EDT",
        "03-09 02:30 EDT",
    ]
    # Lord Howe's gap is 30 minutes: 02:15 fires at 02:45
    assert between("15 2 * * *", LORD_HOWE, utc(2026, 10, 3, 12), utc(2026, 10, 4, 12)) == [
        "10-04 02:45 +11",
    ]
    # several fixed times in the gap that land on one instant fire once
    assert between("0,30 2,3 * * *", NY, utc(2026, 3, 8, 5), utc(2026, 3, 8, 9)) == [
        "03-08 03:00 EDT",
        "03-08 03:30 EDT",
    ]


def test_fixed_time_repeated_by_fall_back_fires_once_at_the_first():
    assert between("30 1 * * *", NY, utc(2026, 11, 1), utc(2026, 11, 2)) == ["11-01 01:30 EDT"]
    assert between("0,30 1-2 * * *", NY, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8)) == [
        "11-01 01:00 EDT",
        "11-01 01:30 EDT",
        "11-01 02:00 EST",
        "11-01 02:30 EST",
    ]


def test_wildcard_jobs_fire_in_both_occurrences_of_the_repeated_hour():
    got = between("*/15 * * * *", NY, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30))
    assert got == [
        "11-01 01:45 EDT",
        "11-01 01:00 EST",  # 15 minutes after 01:45 EDT: no 75-minute hole
        "11-01 01:15 EST",
        "11-01 01:30 EST",
    ]
    got = between("* * * * *", NY, utc(2026, 11, 1, 5, 58), utc(2026, 11, 1, 6, 1))
    assert got == ["11-01 01:59 EDT", "11-01 01:00 EST", "11-01 01:01 EST"]
    got = between("0 * * * *", NY, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7, 30))
    assert got == ["11-01 01:00 EDT", "11-01 01:00 EST", "11-01 02:00 EST"]
    # a wildcard minute with fixed hours runs on the clock too (Debian's MIN_STAR)
    got = between("*/30 1 * * *", NY, utc(2026, 11, 1), utc(2026, 11, 2))
    assert got == ["11-01 01:00 EDT", "11-01 01:30 EDT", "11-01 01:00 EST", "11-01 01:30 EST"]


def test_wildcard_jobs_skip_the_wall_times_spring_forward_skips():
    got = between("*/15 * * * *", NY, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 15))
    assert got == ["03-08 01:45 EST", "03-08 03:00 EDT", "03-08 03:15 EDT"]
    # Debian runs wildcard jobs on the new time: 02:xx never comes on that day
    assert between("*/30 2 * * *", NY, utc(2026, 3, 8), utc(2026, 3, 9)) == []
    assert between("0 * * * *", LORD_HOWE, utc(2026, 10, 3, 13), utc(2026, 10, 3, 16, 30)) == [
        "10-04 00:00 +1030",
        "10-04 01:00 +1030",
        "10-04 03:00 +11",  # 02:00 does not exist
    ]


def test_wildcard_jobs_on_lord_howe_fall_back_repeat_half_an_hour():
    got = between("*/15 * * * *", LORD_HOWE, utc(2026, 4, 4, 14, 10), utc(2026, 4, 4, 15, 40))
    assert got == [
        "04-05 01:15 +11",
        "04-05 01:30 +11",
        "04-05 01:45 +11",
        "04-05 01:30 +1030",
        "04-05 01:45 +1030",
        "04-05 02:00 +1030",
    ]


def test_every_minute_across_a_year_of_dst_fires_once_per_real_minute():
    # A day either side of each change in New York: every real minute fires exactly once.
    for start in (utc(2026, 3, 7, 12), utc(2026, 10, 31, 12)):
        got = fires_between(Cron("* * * * *", NY), start, start + timedelta(days=2))
        assert got == [start + timedelta(minutes=k) for k in range(1, 2 * 24 * 60 + 1)]


def test_the_clock_walk_assumptions_hold_in_every_time_zone():
    """UTC offset changes are at least 3 days apart and at most 24 hours big, everywhere."""
    from zoneinfo import _zoneinfo  # the pure-Python implementation exposes transitions

    for key in sorted(zoneinfo.available_timezones()):
        zone: Any = _zoneinfo.ZoneInfo.no_cache(key)
        offset = zone._tti_before.utcoff if zone._tti_before else None
        last = None
        for when, tti in zip(zone._trans_utc, zone._ttinfos, strict=True):
            if offset is not None and tti.utcoff != offset:
                assert abs(tti.utcoff - offset) <= timedelta(hours=24), key
                assert last is None or when - last >= 3 * 24 * 3600, (key, when)
                last = when
            offset = tti.utcoff
