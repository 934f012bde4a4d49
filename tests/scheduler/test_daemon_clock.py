"""The daemon on a controllable clock: recurrence, DST, catch-up, overlap, live changes, crashes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from headrace.scheduler import Daemon, Schedule
from headrace.scheduler.planner import plan
from headrace.scheduler.recurrence import parse_every
from headrace.scheduler.store import PENDING, SKIPPED, Firing, SchedulerStore

from .conftest import PIPELINES, Clock, FakeLauncher

SLEEPY = f"{PIPELINES}:sleepy"


def make(ws, clock, name="s", **kw):
    kw.setdefault("every", "1h")
    return Schedule.create(name, SLEEPY, workspace=ws, now=clock().timestamp(), **kw)


def daemon(ws, clock, launcher):
    return Daemon(ws, now=clock, launcher=launcher)


def test_recurrence_fires_on_time_with_deterministic_run_id(ws, clock, launcher):
    make(ws, clock)
    d = daemon(ws, clock, launcher)
    d.step()
    assert launcher.started == []
    clock.advance(minutes=59, seconds=59)
    d.step()
    assert launcher.started == []
    clock.advance(seconds=1)
    d.step()
    d.step()
    assert launcher.run_ids == ["sched-s-20260301T010000Z"]


def test_daily_0230_on_dst_days_fires_once_each(ws, clock, launcher):
    clock.t = datetime(2026, 3, 7, 12, tzinfo=UTC)
    make(ws, clock, every="1d", at="02:30", timezone="America/New_York")
    d = daemon(ws, clock, launcher)
    for _ in range(48 * 4):  # two days in 15-minute steps across the spring-forward night
        clock.advance(minutes=15)
        d.step()
        launcher.finish_all()
    # 2026-03-08 02:30 does not exist in New York: it fires once, at 03:30 EDT = 07:30Z
    assert launcher.run_ids == ["sched-s-20260308T073000Z", "sched-s-20260309T063000Z"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("none", []),
        ("latest", ["sched-s-20260301T050000Z"]),
        ("all", [f"sched-s-20260301T0{h}0000Z" for h in range(1, 6)]),
    ],
)
def test_catch_up_after_downtime(ws, clock, launcher, policy, expected, caplog):
    make(ws, clock, catch_up=policy, overlap="allow")
    clock.advance(hours=5, minutes=30)  # the daemon was down: 01:00..05:00 were missed
    caplog.set_level(logging.INFO, "headrace.scheduler")
    daemon(ws, clock, launcher).step()
    assert launcher.run_ids == expected
    if policy != "all":
        assert "missed fire" in caplog.text


def test_catch_up_all_is_capped_at_the_newest(clock):
    timing = parse_every("1m")
    decided = plan(timing, clock(), clock.advance(days=2), "all", cap=100)
    runs = decided.caught_up + decided.on_time
    assert decided.capped and len(runs) == 100
    assert runs[-1] == clock() and runs == sorted(runs)


def test_restart_neither_loses_nor_duplicates(ws, clock, launcher):
    make(ws, clock, catch_up="all", overlap="allow")
    clock.advance(hours=1)
    daemon(ws, clock, launcher).step()
    again = FakeLauncher()
    daemon(ws, clock, again).step()  # a second daemon life at the same instant
    assert launcher.run_ids == ["sched-s-20260301T010000Z"] and again.started == []


def test_crash_between_decided_and_started_starts_once(ws, clock, launcher):
    make(ws, clock)
    store = SchedulerStore(ws.history)
    fire = datetime(2026, 3, 1, 1, tzinfo=UTC)
    firing = Firing("sched-s-20260301T010000Z", "s", fire.timestamp(), "schedule", PENDING, {})
    store.record_time_firings("s", [firing], fire.timestamp(), 0)  # decided, then "crashed"
    clock.advance(hours=1)
    d = daemon(ws, clock, launcher)
    d.recover()
    d.step()
    d.step()
    assert launcher.run_ids == ["sched-s-20260301T010000Z"]


@pytest.mark.parametrize(
    ("overlap", "started", "states"),
    [
        ("skip", 1, {SKIPPED}),
        ("queue", 2, set()),
        ("allow", 2, set()),
    ],
)
def test_overlap_policies(ws, clock, launcher, overlap, started, states):
    make(ws, clock, overlap=overlap)
    d = daemon(ws, clock, launcher)
    clock.advance(hours=1)
    d.step()
    clock.advance(hours=1)  # the 01:00 run is still going
    d.step()
    running = len(launcher.started)
    assert running == (2 if overlap == "allow" else 1)
    launcher.finish_all()
    d.step()
    assert len(launcher.started) == started
    rows = ws.history.query("SELECT state FROM firings WHERE state='skipped'")
    assert {r["state"] for r in rows} == states


def test_schedules_created_disabled_or_deleted_while_running(ws, clock, launcher):
    d = daemon(ws, clock, launcher)
    d.step()
    make(ws, clock, name="late", every="30m")
    clock.advance(minutes=30)
    d.step()
    assert launcher.run_ids == ["sched-late-20260301T003000Z"]
    Schedule.get("late", ws).set_enabled(False, ws)
    clock.advance(minutes=30)
    d.step()
    assert len(launcher.started) == 1
    Schedule.get("late", ws).delete(ws)
    d.step()
    assert "late" not in d.schedules


def test_cron_in_a_time_zone(ws, clock, launcher):
    make(ws, clock, every=None, cron="0 9 * * *", timezone="Europe/Berlin")
    d = daemon(ws, clock, launcher)
    clock.advance(hours=8)  # 08:00Z = 09:00 CET
    d.step()
    assert launcher.run_ids == ["sched-s-20260301T080000Z"]


def test_sigterm_path_interrupts_children(ws, clock, launcher):
    make(ws, clock)
    d = daemon(ws, clock, launcher)
    clock.advance(hours=1)
    d.step()
    d.shutdown()
    child = launcher.children["sched-s-20260301T010000Z"]
    assert child.interrupted
    state = ws.history.query("SELECT state, exit_code FROM firings")[0]
    assert state == {"state": "done", "exit_code": 130}


def test_clock_fixture_is_aware():
    assert Clock(datetime(2026, 1, 1, tzinfo=UTC))().tzinfo is UTC
