"""Recurrences anchored as Azure's are: start times, wall-clock intervals, weeks, DST, the CLI."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headrace.engine import HeadraceError
from headrace.scheduler import Daemon, Schedule
from headrace.scheduler.recurrence import Cron, Recurrence, fires_between, schedule_from_dict
from headrace.scheduler.store import SchedulerStore

from .conftest import PIPELINES

ZONES = [
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
]
SLEEPY = f"{PIPELINES}:sleepy"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def walls(fires: list[datetime], zone: str) -> list[str]:
    return [f.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M %Z") for f in fires]


def year(rec: Recurrence, zone: str, y: int = 2026) -> list[datetime]:
    tz = ZoneInfo(zone)
    return fires_between(rec, datetime(y, 1, 1, tzinfo=tz), datetime(y + 1, 1, 1, tzinfo=tz))


# --- start_time: past, future, none -----------------------------------------------------------


def test_a_past_start_fires_at_the_next_time_computed_from_it():
    # Azure Scheduler's and Logic Apps' example: every 2 days from 2017-09-07 14:00, asked on
    # the 8th at 13:00, first runs on the 9th at 14:00, then the 11th, 13th...
    rec = Recurrence("Day", 2, start_time=datetime(2017, 9, 7, 14))
    assert fires_between(rec, utc(2017, 9, 8, 13), utc(2017, 9, 14)) == [
        utc(2017, 9, 9, 14),
        utc(2017, 9, 11, 14),
        utc(2017, 9, 13, 14),
    ]
    for older in (datetime(2017, 9, 5, 14), datetime(2017, 9, 1, 14)):
        same = Recurrence("Day", 2, start_time=older)
        assert same.next_fire(utc(2017, 9, 8, 13)) == utc(2017, 9, 9, 14)


@pytest.mark.parametrize("zone", ZONES)
def test_a_past_start_keeps_its_anchor_for_minutes_and_hours(zone):
    tz = ZoneInfo(zone)
    rec = Recurrence("Hour", 5, start_time=datetime(2026, 1, 10, 9, 20), time_zone=zone)
    fire = rec.next_fire(datetime(2026, 1, 20, 12, 0, tzinfo=tz))  # 09:20 is 240h on
    assert fire == datetime(2026, 1, 20, 14, 20, tzinfo=tz)
    minutes = Recurrence("Minute", 45, start_time=datetime(2026, 1, 10, 9, 20), time_zone=zone)
    assert minutes.next_fire(datetime(2026, 1, 10, 12, 0, tzinfo=tz)) == datetime(
        2026, 1, 10, 12, 20, tzinfo=tz
    )


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("kwargs", "first"),
    [
        ({"frequency": "Minute", "interval": 7}, datetime(2026, 12, 1, 9, 30)),
        ({"frequency": "Hour", "interval": 3}, datetime(2026, 12, 1, 9, 30)),
        ({"frequency": "Day", "interval": 3}, datetime(2026, 12, 1, 9, 30)),
        ({"frequency": "Week", "interval": 2}, datetime(2026, 12, 1, 9, 30)),
        ({"frequency": "Month"}, datetime(2026, 12, 1, 9, 30)),
        ({"frequency": "Day", "time_of_day": "08:00"}, datetime(2026, 12, 2, 8, 0)),
        (
            {"frequency": "Week", "week_days": ("Fri",), "hours": (10,)},
            datetime(2026, 12, 4, 10, 30),
        ),
    ],
)
def test_a_future_start_is_the_first_run(zone, kwargs, first):
    # 2026-12-01T09:30 is a Tuesday; with times of day the first run is the first of them
    # at or after the start ("no sooner than the start time").
    rec = Recurrence(**kwargs, start_time=datetime(2026, 12, 1, 9, 30), time_zone=zone)
    assert rec.next_fire(utc(2026, 6, 1)) == first.replace(tzinfo=ZoneInfo(zone))


def test_a_start_that_matches_the_schedule_fires_at_the_start():
    # Logic Apps: "every Saturday at 5 PM, with start date and time ... September 9, 2017 at
    # 5:00 PM" (a Saturday) runs first at the start. (azureml-pipeline-core's note that such
    # a start does not run is not followed.)
    rec = Recurrence("Week", week_days=("Sat",), hours=(17,), start_time=datetime(2017, 9, 9, 17))
    assert rec.next_fire(utc(2017, 9, 1)) == utc(2017, 9, 9, 17)


@pytest.mark.parametrize("zone", ZONES)
def test_an_aware_start_is_its_wall_time_in_the_zone(zone):
    start = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    wall = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    aware = Recurrence("Hour", 1, start_time=start, time_zone=zone)
    naive = Recurrence("Hour", 1, start_time=wall, time_zone=zone)
    assert fires_between(aware, utc(2026, 12, 1), utc(2026, 12, 3)) == fires_between(
        naive, utc(2026, 12, 1), utc(2026, 12, 3)
    )


@pytest.mark.parametrize("zone", ZONES)
def test_without_a_start_intervals_count_from_1970_on_the_wall_clock(zone):
    # Not from the 1970 instant: Lord Howe (+10:00 then) put hourly fires at :30 in its
    # +10:30 winter, Kathmandu (+5:30 then) at :15, and 24h in London (+1:00 then) at 23:00.
    tz = ZoneInfo(zone)
    for month in (1, 7):
        day = datetime(2026, month, 10, tzinfo=tz)
        hourly = fires_between(Recurrence("Hour", time_zone=zone), day, day + timedelta(days=1))
        assert {f.astimezone(tz).strftime("%M") for f in hourly} == {"00"}
        daily = Recurrence("Hour", 24, time_zone=zone).next_fire(day)
        assert daily.astimezone(tz).strftime("%d %H:%M") == "11 00:00"
        quarter = Recurrence("Minute", 15, time_zone=zone).next_fire(day + timedelta(minutes=7))
        assert quarter.astimezone(tz).strftime("%H:%M") == "00:15"


# --- Minute and Hour: wall-clock anchoring, DST ----------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_hourly_from_0900_fires_on_the_hour_local_in_winter_and_summer(zone):
    tz = ZoneInfo(zone)
    rec = Recurrence("Hour", start_time=datetime(2026, 1, 5, 9, 0), time_zone=zone)
    for month in (1, 7):
        day = datetime(2026, month, 20, tzinfo=tz)
        fires = fires_between(rec, day, day + timedelta(days=1) - timedelta(minutes=1))
        assert [f.astimezone(tz).strftime("%H:%M") for f in fires] == [
            f"{h:02d}:00" for h in range(1, 24)
        ]


@pytest.mark.parametrize("zone", ["Europe/London", "Europe/Berlin", "America/New_York"])
def test_hourly_is_every_real_hour_all_year_in_whole_hour_zones(zone):
    # The interval is no longer than the one-hour changes: it runs on the clock through them.
    rec = Recurrence("Hour", start_time=datetime(2025, 12, 1, 9), time_zone=zone)
    fires = fires_between(rec, utc(2026, 1, 1), utc(2027, 1, 1))
    assert fires == [utc(2026, 1, 1) + timedelta(hours=h) for h in range(1, 365 * 24 + 1)]


def test_every_30_minutes_in_lord_howe_is_every_real_half_hour_all_year():
    rec = Recurrence(
        "Minute", 30, start_time=datetime(2025, 12, 1, 9), time_zone="Australia/Lord_Howe"
    )
    fires = fires_between(rec, utc(2026, 1, 1), utc(2027, 1, 1))
    assert fires == [utc(2026, 1, 1) + timedelta(minutes=30 * k) for k in range(1, 365 * 48 + 1)]


def test_hourly_in_lord_howe_across_its_half_hour_changes():
    # The changes are 30 minutes, shorter than the interval: the fixed-time rule. Spring
    # (2026-10-04 02:00 -> 02:30): 02:00 fires shifted, at 02:30. Autumn (2026-04-05
    # 02:00 -> 01:30): nothing on the hour repeats, so 01:00 and 02:00 fire once each.
    zone = "Australia/Lord_Howe"
    rec = Recurrence("Hour", start_time=datetime(2026, 1, 5, 9), time_zone=zone)
    spring = fires_between(rec, utc(2026, 10, 3, 13), utc(2026, 10, 3, 17))
    assert walls(spring, zone) == [
        "10-04 00:00 +1030",
        "10-04 01:00 +1030",
        "10-04 02:30 +11",
        "10-04 03:00 +11",
        "10-04 04:00 +11",
    ]
    autumn = fires_between(rec, utc(2026, 4, 4, 12), utc(2026, 4, 4, 16))
    assert walls(autumn, zone) == [
        "04-05 00:00 +11",
        "04-05 01:00 +11",
        "04-05 02:00 +1030",
    ]


@pytest.mark.parametrize("zone", ZONES)
def test_every_24h_from_0200_is_0200_local_every_day_of_the_year(zone):
    # Wall-clock, as Azure shifts the UTC time of a recurrence with a time zone "to counter
    # the seasonal time change"; 02:00 inside a spring-forward gap fires shifted by the gap.
    tz = ZoneInfo(zone)
    rec = Recurrence("Hour", 24, start_time=datetime(2025, 12, 31, 2), time_zone=zone)
    days = [date(2026, 1, 1) + timedelta(days=k) for k in range(365)]
    expected = [datetime.combine(d, time(2)).replace(tzinfo=tz).astimezone(UTC) for d in days]
    assert year(rec, zone) == expected


def test_every_24h_in_london_fires_at_0200_gmt_and_bst():
    rec = Recurrence("Hour", 24, start_time=datetime(2026, 1, 1, 2), time_zone="Europe/London")
    fires = fires_between(rec, utc(2026, 3, 27), utc(2026, 3, 31))
    assert walls(fires, "Europe/London") == [
        "03-27 02:00 GMT",
        "03-28 02:00 GMT",
        "03-29 02:00 BST",
        "03-30 02:00 BST",
    ]
    assert fires[1:3] == [utc(2026, 3, 28, 2), utc(2026, 3, 29, 1)]


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Berlin", "03-29 03:30 CEST", "10-25 02:30 CEST"),
        ("America/New_York", "03-08 03:30 EDT", "11-01 02:30 EST"),
    ],
)
def test_every_24h_at_a_changing_wall_time_fires_once(zone, spring, autumn):
    rec = Recurrence("Hour", 24, start_time=datetime(2026, 1, 1, 2, 30), time_zone=zone)
    fired = walls(year(rec, zone), zone)
    assert len(fired) == 365
    assert spring in fired and autumn in fired
    assert sum(w.startswith(autumn[:5]) for w in fired) == 1


def test_an_interval_longer_than_the_change_fires_a_repeated_time_once():
    zone = "America/New_York"
    two_hours = Recurrence("Hour", 2, start_time=datetime(2026, 1, 1, 1), time_zone=zone)
    assert walls(fires_between(two_hours, utc(2026, 11, 1, 4), utc(2026, 11, 1, 9)), zone) == [
        "11-01 01:00 EDT",
        "11-01 03:00 EST",
    ]
    quarter = Recurrence("Minute", 15, start_time=datetime(2026, 1, 1), time_zone=zone)
    night = fires_between(quarter, utc(2026, 11, 1, 4, 50), utc(2026, 11, 1, 7))
    assert len(night) == 9 and walls(night, zone)[4] == "11-01 01:00 EST"
    assert all(b - a == timedelta(minutes=15) for a, b in zip(night, night[1:], strict=False))


def test_a_start_in_the_second_occurrence_of_a_repeated_time_fires_at_the_start():
    start = utc(2026, 10, 25, 1, 30)  # 02:30 CET, the second 02:30 in Berlin that night
    rec = Recurrence("Hour", 24, start_time=start, time_zone="Europe/Berlin")
    fires = fires_between(rec, start - timedelta(days=3), start + timedelta(days=2))
    assert walls(fires, "Europe/Berlin") == [
        "10-25 02:30 CET",
        "10-26 02:30 CET",
        "10-27 02:30 CET",
    ]


def test_a_start_inside_a_gap_fires_at_the_start_shifted_by_the_gap():
    rec = Recurrence(
        "Minute", 25, start_time=datetime(2026, 3, 8, 2, 30), time_zone="America/New_York"
    )
    fires = fires_between(rec, utc(2026, 3, 1), utc(2026, 3, 8, 8))
    assert walls(fires, "America/New_York") == ["03-08 03:30 EDT", "03-08 03:45 EDT"]


@functools.cache
def _changes(zone: str, y: int = 2026) -> list[datetime]:
    """The instants of ``zone``'s UTC offset changes in year ``y`` (to the minute)."""
    tz = ZoneInfo(zone)
    found, t = [], datetime(y, 1, 1, tzinfo=UTC)
    while t.year == y:
        if (t + timedelta(hours=1)).astimezone(tz).utcoffset() != t.astimezone(tz).utcoffset():
            low = t
            while (low + timedelta(minutes=1)).astimezone(tz).utcoffset() == t.astimezone(
                tz
            ).utcoffset():
                low += timedelta(minutes=1)
            found.append(low + timedelta(minutes=1))
        t += timedelta(hours=1)
    return found


def _reference(anchor: datetime, step: timedelta, zone: str, around: datetime) -> list[datetime]:
    """The Minute/Hour rule by its definition, member by member, through PEP 495 folds."""
    tz = ZoneInfo(zone)
    wall = around.astimezone(tz).replace(tzinfo=None)
    member = anchor + ((wall - timedelta(days=2) - step - anchor) // step) * step
    fires = set()
    while member <= wall + step + timedelta(days=2):
        first = member.replace(tzinfo=tz, fold=0).astimezone(UTC)
        second = member.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if first == second or second < first < second + step:  # unique, or gap shorter than step
            fires.add(first)
        elif second > first:  # repeated: first occurrence, and the second on the clock
            fires.update([first, second] if step <= second - first else [first])
        member += step
    return sorted(fires)


CHANGE_ZONES = [z for z in ZONES if z != "Asia/Kathmandu"]
STEPS = [timedelta(minutes=m) for m in (1, 7, 15, 25, 30, 45, 60, 90, 120, 300, 1440, 1500)]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CHANGE_ZONES),
    st.sampled_from(STEPS),
    st.integers(0, 1439),
    st.integers(0, 3),
    st.integers(-2000, 2000),
)
def test_minute_and_hour_fires_match_their_definition_around_dst(zone, step, phase, which, shift):
    change = _changes(zone)[which % 2]
    after = change + timedelta(minutes=shift, seconds=17)
    anchor = datetime(2025, 6, 1) + timedelta(minutes=phase)
    rec = Recurrence("Minute", step // timedelta(minutes=1), start_time=anchor, time_zone=zone)
    expected = [f for f in _reference(anchor, step, zone, after) if f > after][0]
    assert rec.next_fire(after) == expected


# --- weeks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_a_sunday_start_fires_the_monday_and_wednesday_right_after_it(zone):
    # The week is the seven days from the start's date. 2026-03-01 is a Sunday; the runs
    # cross every zone's DST change of March/April at 09:00 local.
    tz = ZoneInfo(zone)
    rec = Recurrence(
        "Week",
        2,
        week_days=("Monday", "Wednesday"),
        time_of_day="09:00",
        start_time=datetime(2026, 3, 1, 8, 0),
        time_zone=zone,
    )
    fires = fires_between(rec, datetime(2026, 2, 1, tzinfo=tz), datetime(2026, 4, 30, tzinfo=tz))
    local = [f.astimezone(tz) for f in fires]
    assert [f.strftime("%a %m-%d %H:%M") for f in local] == [
        "Mon 03-02 09:00",
        "Wed 03-04 09:00",
        "Mon 03-16 09:00",
        "Wed 03-18 09:00",
        "Mon 03-30 09:00",
        "Wed 04-01 09:00",
        "Mon 04-13 09:00",
        "Wed 04-15 09:00",
        "Mon 04-27 09:00",
        "Wed 04-29 09:00",
    ]


def test_a_thursday_start_has_a_thursday_to_wednesday_week():
    rec = Recurrence(
        "Week", 2, week_days=("Mon", "Wed"), hours=(9,), start_time=datetime(2026, 1, 1)
    )
    assert fires_between(rec, utc(2025, 12, 1), utc(2026, 1, 31)) == [
        utc(2026, 1, d, 9) for d in (5, 7, 19, 21)
    ]


def test_the_start_date_of_an_aware_start_is_the_one_in_the_zone():
    # Saturday 23:30 UTC is Sunday 00:30 in Berlin: the Berlin week runs Sunday to Saturday.
    start = utc(2026, 2, 28, 23, 30)
    rec = Recurrence(
        "Week", 2, week_days=("Sat", "Mon"), hours=(9,), start_time=start, time_zone="Europe/Berlin"
    )
    fires = fires_between(rec, utc(2026, 2, 1), utc(2026, 3, 22))
    assert walls(fires, "Europe/Berlin") == [  # the minutes are the start's, as in Berlin: 30
        "03-02 09:30 CET",
        "03-07 09:30 CET",
        "03-16 09:30 CET",
        "03-21 09:30 CET",
    ]


def test_without_a_start_weeks_begin_on_monday():
    rec = Recurrence("Week", 2, week_days=("Sun", "Mon"))
    fires = fires_between(rec, utc(2026, 1, 1), utc(2026, 1, 31))
    gaps = {(b - a).days for a, b in zip(fires, fires[1:], strict=False)}
    assert gaps == {6, 8}  # Monday, the Sunday six days on, and the Monday of the week after next
    pairs = [(a, b) for a, b in zip(fires, fires[1:], strict=False) if (b - a).days == 6]
    assert pairs and all((a.strftime("%a"), b.strftime("%a")) == ("Mon", "Sun") for a, b in pairs)


def test_monthly_from_the_start_keeps_its_day_and_wall_time_across_dst():
    zone = "America/New_York"
    rec = Recurrence("Month", start_time=datetime(2026, 1, 15, 9, 30), time_zone=zone)
    fires = fires_between(rec, utc(2026, 1, 1), utc(2026, 12, 31))
    assert walls(fires, zone) == [
        f"{m:02d}-15 09:30 {'EDT' if 3 <= m <= 10 else 'EST'}" for m in range(1, 13)
    ]


# --- Schedule.create and the daemon ----------------------------------------------------------


def _make(ws, clock, **kw):
    kw.setdefault("every", "1h")
    return Schedule.create("s", SLEEPY, workspace=ws, now=clock().timestamp(), **kw)


def _run_for(ws, clock, launcher, hours: int) -> list[str]:
    d = Daemon(ws, now=clock, launcher=launcher)
    for _ in range(hours * 4):
        d.step()
        launcher.finish_all()
        clock.advance(minutes=15)
    return launcher.run_ids


def test_create_stores_the_start_time_in_the_spec(ws, clock):
    made = _make(
        ws,
        clock,
        every="1w",
        week_days="Mon,Wed",
        start_time="2026-03-01T09:30",
        timezone="Europe/London",
    )
    (row,) = SchedulerStore(ws.history).schedules()
    assert json.loads(row.spec)["start_time"] == "2026-03-01T09:30:00"
    assert Schedule.get("s", ws) == made
    assert made.next_fire(clock()) == utc(2026, 3, 2, 9, 30)


def test_an_old_spec_without_a_start_time_still_reads():
    old = {"type": "recurrence", "frequency": "Hour", "interval": 1, "time_zone": "Asia/Kathmandu"}
    rec = schedule_from_dict(old)
    assert rec.start_time is None and rec.next_fire(utc(2026, 1, 1)) == utc(2026, 1, 1, 0, 15)


def test_a_future_start_runs_first_at_the_start(ws, clock, launcher):
    _make(ws, clock, every="2h", start_time="2026-03-01T03:30+01:00", timezone="Europe/Berlin")
    assert _run_for(ws, clock, launcher, 5) == [
        "sched-s-20260301T023000Z",
        "sched-s-20260301T043000Z",
    ]


def test_a_past_start_runs_at_the_next_time_computed_from_it_and_catches_nothing_up(
    ws, clock, launcher
):
    _make(ws, clock, every="3h", start_time="2026-02-27T01:20", catch_up="all", overlap="allow")
    assert _run_for(ws, clock, launcher, 5) == [
        "sched-s-20260301T012000Z",
        "sched-s-20260301T042000Z",
    ]


def test_a_start_now_runs_at_once_then_every_interval(ws, clock, launcher):
    clock.advance(minutes=7, seconds=42, microseconds=500)
    _make(ws, clock, every="1h", start_time="now")
    assert _run_for(ws, clock, launcher, 2)[:2] == [
        "sched-s-20260301T000742Z",
        "sched-s-20260301T010742Z",
    ]


def test_without_a_start_nothing_runs_at_creation(ws, clock, launcher):
    _make(ws, clock, every="30m")
    assert _run_for(ws, clock, launcher, 1) == ["sched-s-20260301T003000Z"]


def test_cron_with_a_start_fires_not_before_it(ws, clock, launcher):
    made = _make(ws, clock, every=None, cron="0 * * * *", start_time="2026-03-01T02:30")
    assert isinstance(made.timing, Cron)
    assert _run_for(ws, clock, launcher, 5) == [f"sched-s-20260301T0{h}0000Z" for h in (3, 4)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"start_time": "next tuesday"},
            r"--start 'next tuesday' is not a date and time; give ISO",
        ),
        ({"start_time": 5}, r"--start 5 is not a date and time"),
        (
            {"every": None, "on_change": ".", "start_time": "2026-01-01"},
            r"--start goes with --every or --cron",
        ),
        ({"start_time": "0001-01-01"}, r"--every '1h' cannot be scheduled: .* years 1 to 9999"),
        ({"start_time": "9999-12-31T23:59"}, r"--every '1h' cannot be scheduled"),
        ({"every": "99999999999d"}, r"--every '99999999999d' cannot be scheduled"),
    ],
)
def test_create_rejects_a_bad_start(ws, clock, kwargs, match):
    with pytest.raises(HeadraceError, match=match):  # a SchedulerError or a ScheduleError
        _make(ws, clock, **kwargs)
    assert SchedulerStore(ws.history).schedules() == []  # nothing saved: list keeps working


# --- the real command line --------------------------------------------------------------------


@pytest.mark.slow
def test_cli_create_with_start_then_list_shows_the_next_fire(tmp_path):
    ws = str(tmp_path / "ws")
    summer = datetime.now(UTC).year + 1
    cli = [sys.executable, "-m", "headrace.engine.cli", "schedule"]
    env = {**os.environ, "COLUMNS": "200"}

    def run(*args: str) -> str:
        done = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr + done.stdout
        return " ".join(done.stdout.split(" "))

    created = run(
        "create",
        "nightly",
        "--pipeline",
        SLEEPY,
        "--every",
        "24h",
        "--timezone",
        "Europe/London",
        "--start",
        f"{summer}-07-01T02:00",
        "-w",
        ws,
    )
    assert f"next fire {summer}-07-01 02:00:00 BST" in " ".join(created.split())  # its zone
    run(
        "create",
        "hourly",
        "--pipeline",
        SLEEPY,
        "--every",
        "1h",
        "--timezone",
        "Australia/Lord_Howe",
        "--start",
        f"{summer}-06-01T09:00+10:30",
        "-w",
        ws,
    )
    listed = {r["name"]: r for r in json.loads(run("list", "--json", "-w", ws))}
    assert listed["nightly"]["next_fire"] == f"{summer}-07-01T01:00:00+00:00"
    assert listed["hourly"]["next_fire"] == f"{summer}-05-31T22:30:00+00:00"
    assert "starting" in listed["hourly"]["when"]
    table = run("list", "-w", ws)
    assert f"{summer}-07-01 02:00:00 BST" in table  # the time in the schedule's zone, named


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"cron": ""}, "--cron is empty; give one such as --cron '0 2 * * *'"),
        ({"every": "  "}, "--every is empty; give one such as --every 1d"),
        ({"on_change": ""}, "--on-change is empty"),
    ],
)
def test_an_empty_timing_is_refused_and_named(ws, kw, says) -> None:
    with pytest.raises(HeadraceError, match=re.escape(says)):
        Schedule.create("s", SLEEPY, workspace=ws, **kw)
    assert SchedulerStore(ws.history).schedule("s") is None


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"glob": "*.csv"}, "--glob goes"),
        ({"poll": "5s", "settle": "1s"}, "--poll, --settle go"),
        ({"data_path_param": "files"}, "--data-path-param goes"),
    ],
)
def test_data_trigger_options_on_a_time_schedule_are_refused(ws, kw, named) -> None:
    with pytest.raises(HeadraceError, match=re.escape(named) + ".* with --on-change"):
        Schedule.create("s", SLEEPY, workspace=ws, every="1d", **kw)
    assert SchedulerStore(ws.history).schedule("s") is None
