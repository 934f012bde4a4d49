"""The scheduler daemon: one per workspace; fires due schedules and triggers as runs."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from headrace.engine.store.workspace import Workspace
from headrace.scheduler.launcher import Launcher, SubprocessLauncher, decode_files, encode_files
from headrace.scheduler.lock import WorkspaceLock, remove_pid_file, write_pid_file
from headrace.scheduler.planner import CATCH_UP_CAP, plan
from headrace.scheduler.runs import Runs
from headrace.scheduler.schedule import Schedule, run_id_for
from headrace.scheduler.store import (
    BACKOFF_BASE,
    DAEMON_FAULT,
    PENDING,
    QUEUED,
    RUNNING,
    SKIPPED,
    Firing,
    ScheduleRow,
    SchedulerStore,
)
from headrace.scheduler.triggers import Change, EventHub, Watch

log = logging.getLogger("headrace.scheduler")


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class Daemon:
    """Fires a workspace's schedules: decides, records, launches, reaps, and stops cleanly.

    Every decision is recorded with a run id derived from the schedule name and the fire
    time before the run starts, so a crash between the two cannot duplicate a run; a time
    schedule's cursor and a trigger's fingerprints move in the same transaction. The daemon
    never imports user code (each run is a child process), and whatever goes wrong with one
    schedule -- its folder, a file in it, its pipeline -- is recorded on that schedule only
    (``SchedulerStore.faults``) and retried with backoff; the others go on.

    Args:
        workspace: The workspace.
        now: The clock for time schedules (aware datetimes); tests pass a fake one.
        launcher: Starts runs (default: a child process per run).
        tick: Longest sleep between looks at the schedules table, in seconds.
        stop_grace: Seconds in-flight runs get to cancel on SIGTERM before they are killed.
        backoff: Seconds before the first retry of a failing schedule (doubling each time).
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        now: Callable[[], datetime] | None = None,
        launcher: Launcher | None = None,
        tick: float = 1.0,
        stop_grace: float = 30.0,
        backoff: float = BACKOFF_BASE,
    ):
        self.ws = workspace
        self.store = SchedulerStore(workspace.history)
        self.now = now or (lambda: datetime.now(UTC))
        self.launcher = launcher or SubprocessLauncher()
        self.tick, self.stop_grace, self.backoff = tick, stop_grace, backoff
        self.runs = Runs(workspace, self.store, self.launcher, backoff)
        self.watches: dict[str, Watch] = {}
        self.schedules: dict[str, Schedule] = {}
        self._rows: dict[str, ScheduleRow] = {}  # as last read; a changed row is picked up
        self._next_fire: dict[str, tuple[float, datetime]] = {}
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.hub = EventHub(self.wake)
        self._stat_cache: Any = None
        self._busy: set[str] = set()
        self._deferring: set[str] = set()
        self._told: set[str] = set()  # deferring triggers whose deferral was logged
        # schedule -> epoch seconds of its next try; a fault an earlier daemon recorded is
        # tried again at once, and cleared once that works
        self._retry_at = {
            name: 0.0 for name, f in self.store.faults().items() if f.source == DAEMON_FAULT
        }

    # the loop ---------------------------------------------------------------------------
    def serve(self, log_file: str | None = None) -> None:
        """Run until SIGTERM/SIGINT, then cancel in-flight runs and return (holds the lock).

        Args:
            log_file: Where its log goes (``--detach``), for ``daemon.pid`` and ``status``.
        """
        with WorkspaceLock(self.ws.root):
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
            write_pid_file(self.ws.root, log_file)
            log.info("daemon started (pid %d) for workspace %s", os.getpid(), self.ws.root)
            self._survive(self.recover)
            try:
                while not self.stopping.is_set():
                    sleep = self._sleep() if self._survive(self.step) else self.tick
                    self.wake.wait(sleep)
                    self.wake.clear()
            finally:
                self.shutdown()
                remove_pid_file(self.ws.root)

    def _survive(self, action: Callable[[], None]) -> bool:
        """Run a pass; an unexpected failure is logged and the loop goes on (no crash loop)."""
        try:
            action()
            return True
        except Exception:
            log.exception("daemon pass failed; trying again in %gs", self.tick)
            return False

    def run_once(self, settle_timeout: float = 60.0) -> None:
        """Fire what is due now (waiting for trigger bursts to settle), wait for the runs."""
        with WorkspaceLock(self.ws.root):
            self.recover()
            deadline = time.monotonic() + settle_timeout
            self.step()
            while any(w.pending or w.dirty.is_set() for w in self.watches.values()):
                if time.monotonic() > deadline or self.stopping.is_set():
                    break
                time.sleep(
                    max(0.01, min(w.next_check() for w in self.watches.values()) - time.monotonic())
                )
                self.step()
            while (
                self.runs.children or self.store.firings([PENDING, QUEUED])
            ) and not self.stopping.is_set():
                time.sleep(0.1)
                self.runs.reap()
                self.runs.launch(self.schedules)
            self.shutdown()

    def stop(self) -> None:
        """Ask the loop to stop (signal handlers call this)."""
        self.stopping.set()
        self.wake.set()

    def step(self) -> None:
        """One pass: re-read schedules, decide due fires and settled triggers, reap, launch."""
        self._sync()
        now = self.now()
        self._busy = {f.schedule for f in self.store.firings([PENDING, RUNNING])}
        for name, sched in list(self.schedules.items()):
            self._guarded(name, functools.partial(self._tick, sched, now))
        self.runs.reap()
        self.runs.launch(self.schedules)

    def _tick(self, sched: Schedule, now: datetime) -> None:
        if sched.timing is not None:
            self._tick_time(sched, now)
            return
        watch = self.watches.get(sched.name) or self._watch(sched)
        if self._deferred(sched.name, watch):
            return
        change = watch.check()
        if change is not None:
            self._fire_trigger(sched, watch, change, now)

    def _guarded(self, name: str, action: Callable[[], None]) -> None:
        """Do one schedule's part of a pass; a failure is that schedule's alone.

        It is recorded on the schedule (``schedule list`` shows it) and tried again after a
        backoff that doubles with each failure in a row; its watch is rebuilt from the stored
        cursor then, so nothing it had seen but not recorded is lost.
        """
        if self._retry_at.get(name, 0.0) > time.time():
            return
        try:
            action()
        except Exception as exc:
            fault = self.store.record_fault(
                name, DAEMON_FAULT, f"{type(exc).__name__}: {exc}", time.time(), self.backoff
            )
            self._retry_at[name] = fault.retry_at
            log.warning(
                "schedule %s: %s; trying again in %.0fs (failure %d in a row)",
                name,
                fault.error,
                fault.retry_at - fault.failed_at,
                fault.failures,
                exc_info=True,
            )
            self._unwatch(name)
            return
        if self._retry_at.pop(name, None) is not None:
            self.store.clear_fault(name, DAEMON_FAULT)
            log.info("schedule %s: working again", name)

    def _deferred(self, name: str, watch: Watch) -> bool:
        """Overlap "skip" on a trigger: leave changes unconsumed until the running run ends.

        Said once per run, and only when files changed while it ran (an event came).
        """
        if name in self._busy and self.schedules[name].overlap == "skip":
            if name not in self._deferring:
                self._deferring.add(name)
                self._told.discard(name)
            if watch.dirty.is_set() and name not in self._told:
                self._told.add(name)
                log.info("trigger %s: changes wait for the previous run (overlap skip)", name)
            return True
        self._deferring.discard(name)
        return False

    def _sleep(self) -> float:
        wait = self.tick
        now = self.now().timestamp()
        for _, next_fire in self._next_fire.values():
            wait = min(wait, next_fire.timestamp() - now)
        mono = time.monotonic()
        for name, watch in self.watches.items():
            if name not in self._deferring:
                wait = min(wait, watch.next_check() - mono)
        return max(wait, 0.005)

    # schedules table --------------------------------------------------------------------
    def _sync(self) -> None:
        """Pick up schedules created, changed, disabled or deleted since the last pass."""
        rows = {r.name: r for r in self.store.schedules(enabled_only=True)}
        for name in [n for n in self.schedules if n not in rows]:
            self._drop(name)
        for name, row in rows.items():
            if self._rows.get(name) != row:
                self._guarded(name, functools.partial(self._adopt, row))

    def _adopt(self, row: ScheduleRow) -> None:
        """Take a new or changed row; a trigger whose spec changed is watched anew."""
        seen = self._rows.get(row.name)
        sched = Schedule.from_row(row)
        if seen is None or (seen.pipeline, seen.spec) != (row.pipeline, row.spec):
            self._unwatch(row.name)
        self._rows[row.name] = row
        self.schedules[row.name] = sched
        self._next_fire.pop(row.name, None)

    def _drop(self, name: str) -> None:
        self.schedules.pop(name, None)
        self._rows.pop(name, None)
        self._next_fire.pop(name, None)
        self._retry_at.pop(name, None)
        self._unwatch(name)
        log.info("schedule %s: removed or disabled; no longer fired", name)

    def _unwatch(self, name: str) -> None:
        if self.watches.pop(name, None) is not None:
            self.hub.remove(name)

    def _watch(self, sched: Schedule) -> Watch:
        from headrace.engine.store.statcache import StatCache
        from headrace.scheduler.source import open_source

        assert sched.trigger is not None
        if self._stat_cache is None:
            self._stat_cache = StatCache(self.ws.history.path)
        self.hub.remove(sched.name)
        source = open_source(sched.trigger, self._stat_cache)
        watch = Watch(sched.name, sched.trigger, self.store.cursor(sched.name), source)
        self.watches[sched.name] = watch
        self.hub.add(watch)
        log.info("schedule %s: watching %s", sched.name, sched.describe())
        return watch

    # time schedules ---------------------------------------------------------------------
    def _tick_time(self, sched: Schedule, now: datetime) -> None:
        assert sched.timing is not None
        cursor = float(self._rows[sched.name].cursor_time or sched.created_at)
        cached = self._next_fire.get(sched.name)
        if cached is None or cached[0] != cursor:
            after = datetime.fromtimestamp(cursor, UTC)
            cached = (cursor, sched.timing.next_fire(after))
            self._next_fire[sched.name] = cached
        if now < cached[1]:
            return
        decided = plan(sched.timing, datetime.fromtimestamp(cursor, UTC), now, sched.catch_up)
        firings = [self._decide(sched, t, "schedule", sched.params) for t in decided.on_time]
        batch = len(firings)
        for t in decided.caught_up:
            firings.append(self._decide(sched, t, "catch-up", sched.params, batch=batch))
            batch += 1
            log.info(
                "schedule %s: caught up missed fire %s -> run %s",
                sched.name,
                _stamp(t),
                firings[-1].run_id,
            )
        if decided.missed:
            more = "at least " if decided.capped else ""
            log.info(
                "schedule %s: skipped %s%d missed fire(s) (catch-up %s)",
                sched.name,
                more,
                decided.missed,
                sched.catch_up,
            )
        if decided.capped:
            log.warning(
                "schedule %s: more than %d missed fires; ran the newest %d only",
                sched.name,
                CATCH_UP_CAP,
                len(decided.caught_up),
            )
        self.store.record_time_firings(sched.name, firings, now.timestamp(), time.time())
        self._rows[sched.name] = dataclasses.replace(
            self._rows[sched.name], cursor_time=now.timestamp()
        )

    def _decide(
        self,
        sched: Schedule,
        fire_time: datetime,
        reason: str,
        params: dict[str, str],
        batch: int = 0,
        data_param: str | None = None,
    ) -> Firing:
        """A firing whose state follows the overlap policy (logged)."""
        run_id = run_id_for(sched.name, fire_time, precise=reason == "trigger")
        busy = batch > 0 or bool(self.store.firings([PENDING, RUNNING], sched.name))
        state, what = PENDING, "fired"
        if busy and sched.overlap == "skip" and reason == "schedule":
            state, what = SKIPPED, "skipped-overlap (previous run still going)"
        elif busy and sched.overlap != "allow":
            state, what = QUEUED, "queued behind the previous run"
        if reason == "schedule" or state != PENDING:
            log.info(
                "schedule %s: %s for %s -> run %s", sched.name, what, _stamp(fire_time), run_id
            )
        return Firing(
            run_id, sched.name, fire_time.timestamp(), reason, state, dict(params), 1, data_param
        )

    # triggers ---------------------------------------------------------------------------
    def _fire_trigger(self, sched: Schedule, watch: Watch, change: Change, now: datetime) -> None:
        if change.ignored:
            log.info(
                "trigger %s: ignored %d touched file(s) with unchanged content (%s)",
                sched.name,
                len(change.ignored),
                ", ".join(change.ignored[:3]),
            )
        firing = None
        if change.changed:
            data = sched.trigger.data_path_param if sched.trigger else None
            params = dict(sched.params)
            if data:  # the child gives it to the run as its type wants (launcher.data_values)
                params[data] = encode_files(sorted(change.changed))
            waiting = self._queued_trigger_firing(sched.name, data, set(change.changed))
            if waiting is not None:  # it reads them when it starts: no second firing
                firing = None
                log.info(
                    "trigger %s: %d file(s) changed again before queued run %s started; it "
                    "reads them then",
                    sched.name,
                    len(change.changed),
                    waiting.run_id,
                )
            else:
                firing = self._decide(sched, now, "trigger", params, data_param=data)
                log.info(
                    "trigger %s: %d changed file(s) -> run %s",
                    sched.name,
                    len(change.changed),
                    firing.run_id,
                )
        self.store.record_trigger_firing(
            sched.name, firing, change.changed, change.removed, time.time()
        )
        watch.commit(change)

    def _queued_trigger_firing(self, name: str, data: str | None, files: set[str]) -> Firing | None:
        """A queued trigger firing of the schedule, not started yet, that already holds every
        file of a new change: those files were rewritten while it waits. It reads them when it
        starts, so a second firing would read the same new content again (the old content is
        gone either way). A change with any other file fires on its own, as before."""
        if not data:
            return None
        for firing in self.store.firings([QUEUED], name):
            queued = firing.params.get(data)
            ours = firing.reason == "trigger" and firing.data_param == data
            if ours and queued is not None and files <= set(decode_files(str(queued))):
                return firing
        return None

    # runs (scheduler/runs.py keeps the bookkeeping) ------------------------------------
    def recover(self) -> None:
        """After a restart: adopt runs still going; fire again those that did not complete."""
        self.runs.recover()

    def shutdown(self) -> None:
        """Cancel in-flight runs (SIGINT, then SIGKILL after ``stop_grace``) and stop watching."""
        self.hub.stop()
        self.runs.stop(self.stop_grace)
        if self._stat_cache is not None:
            self._stat_cache.close()
        log.info("daemon stopped")
