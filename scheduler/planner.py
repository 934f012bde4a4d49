"""Pure decisions for time schedules: which due fire times run under a catch-up policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from headrace.scheduler.recurrence import Cron, Recurrence, fires_between

#: A fire no later than this behind the clock is on time; older ones were missed (downtime).
GRACE = timedelta(seconds=60)
#: At most this many missed fires run under catch-up "all".
CATCH_UP_CAP = 100


@dataclass(frozen=True)
class Plan:
    """What to do with the fire times due since a schedule's cursor.

    Attributes:
        on_time: Fire times to run as usual.
        caught_up: Missed fire times to run now.
        missed: How many missed fire times are not run (policy "none", "latest", or the cap).
        capped: Whether "all" hit ``CATCH_UP_CAP``.
    """

    on_time: list[datetime] = field(default_factory=list)
    caught_up: list[datetime] = field(default_factory=list)
    missed: int = 0
    capped: bool = False


def recent_fires(
    timing: Recurrence | Cron, after: datetime, now: datetime, n: int
) -> list[datetime]:
    """The last ``n`` fire times in (after, now], without enumerating a long downtime."""
    span = timedelta(seconds=1)
    while True:
        start = max(after, now - span)
        fires = fires_between(timing, start, now)
        if len(fires) >= n or start == after:
            return fires[-n:]
        span *= 2


def plan(
    timing: Recurrence | Cron,
    after: datetime,
    now: datetime,
    catch_up: str,
    cap: int = CATCH_UP_CAP,
    grace: timedelta = GRACE,
) -> Plan:
    """Decide which fire times in (after, now] run.

    Args:
        timing: The schedule.
        after: The cursor: fires up to it were decided already.
        now: The clock.
        catch_up: "none" (missed fires are skipped), "latest" (the newest missed fire runs
            once, unless a fire is on time) or "all" (each missed fire runs, up to ``cap``).
        cap: The most missed fires "all" runs (the newest ones).
        grace: How far behind the clock a fire may be and still be on time.
    """
    if now <= after:
        return Plan()
    total = len(fires_between(timing, after, now, limit=cap + 1))
    if total == 0:
        return Plan()
    fires = recent_fires(timing, after, now, cap)
    on_time = [t for t in fires if now - t <= grace]
    missed = fires[: len(fires) - len(on_time)]
    missed_total = total - len(on_time)  # a lower bound when capped
    if catch_up == "all":
        keep = missed[-max(cap - len(on_time), 0) :] if missed else []
        return Plan(on_time, keep, missed_total - len(keep), total > cap)
    if catch_up == "latest" and missed and not on_time:
        return Plan([], missed[-1:], missed_total - 1)
    return Plan(on_time, [], missed_total)
