"""headrace.scheduler: recurrence and cron schedules, data-change triggers, and the daemon."""

from headrace.scheduler.cron import Cron, ScheduleError
from headrace.scheduler.daemon import Daemon
from headrace.scheduler.lock import DaemonRunningError
from headrace.scheduler.recurrence import Recurrence, fires_between, parse_every
from headrace.scheduler.schedule import Schedule, SchedulerError
from headrace.scheduler.source import TriggerSpec

__all__ = [
    "Cron",
    "Daemon",
    "DaemonRunningError",
    "Recurrence",
    "Schedule",
    "ScheduleError",
    "SchedulerError",
    "TriggerSpec",
    "fires_between",
    "parse_every",
]
