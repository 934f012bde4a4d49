"""Fixed steps of wall time (``Minute``/``Hour`` recurrences) through daylight-saving changes.

The rule is the recurrence module's DST rule: a wall time in a spring-forward gap fires
shifted by the gap unless the step is no longer than it (then the clock runs through it);
a repeated wall time fires in its second occurrence too when the step is no longer than the
repeat.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from headrace.scheduler.cron import first_change, offset_at, resolve_wall

_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)


def next_on_wall(anchor: datetime, step: timedelta, zone: ZoneInfo, floor: datetime) -> datetime:
    """The first fire after ``floor`` of the wall times ``anchor + k * step`` in ``zone``.

    The ``Minute``/``Hour`` rule of the module docstring: a wall time in a spring-forward gap
    fires shifted by it unless ``step`` is no longer than the gap; a repeated wall time fires
    in its second occurrence too if ``step`` is no longer than the repeat.

    Args:
        anchor: A naive wall time the steps count from.
        step: The interval.
        zone: The time zone of the wall times.
        floor: An aware instant; the fire is strictly after it.
    """
    t, offset = floor, offset_at(floor, zone)
    gap = offset - offset_at(floor - _DAY, zone)
    if timedelta(0) < gap < step:  # a wall time of the gap may fire shifted to after floor
        change = first_change(zone, floor - _DAY, floor)
        if floor < change + gap:
            t = change - 2 * _US  # the walk takes the offset just after t: the one before
    while (fire := _walk(anchor, step, zone, t)) <= floor:
        t = fire
    return fire


def _walk(anchor: datetime, step: timedelta, zone: ZoneInfo, t: datetime) -> datetime:
    """``next_on_wall`` from ``t``, if no wall time of a gap before ``t`` fires after it.

    Walks stretches of constant UTC offset (as ``cron.next_on_the_clock`` does): within one,
    wall times and instants move together; offset changes are found by bisection.
    """
    while True:
        offset = offset_at(t + _US, zone)
        wall = (t + offset).replace(tzinfo=None)
        member = anchor + ((wall - anchor) // step + 1) * step
        fire = (member - offset).replace(tzinfo=UTC)
        probe = min(fire, t + _DAY)
        if offset_at(probe, zone) == offset:
            if probe < fire:  # no change for a day: offset changes are 3 days apart or more
                t = max(probe, fire - 3 * _DAY)
                continue
            first = resolve_wall(member, zone)
            if first == fire or step <= fire - first:  # not a repeat, or on the clock
                return fire
            t = fire
            continue
        change = first_change(zone, t + _US, probe)
        gap = offset_at(change, zone) - offset
        past_gap = (change + offset + gap).replace(tzinfo=None)
        if timedelta(0) < gap < step and member < past_gap:
            return fire  # in the gap, shifted forward by it
        t = change - _US
