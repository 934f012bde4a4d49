"""The scheduler daemon: one per workspace; fires due schedules and triggers as runs."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from headrace.engine.store.workspace import Workspace
from headrace.engine.types import PATHS
from headrace.scheduler.launcher import Launcher, SubprocessLauncher
from headrace.scheduler.lock import WorkspaceLock
from headrace.scheduler.planner import CATCH_UP_CAP, plan
from headrace.scheduler.runs import Runs
from headrace.scheduler.schedule import Schedule, run_id_for
from headrace.scheduler.store import (
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
    schedule's cursor and a trigger's fingerprints move in the same transaction.

    Args:
        workspace: The workspace.
        now: The clock for time schedules (aware datetimes); tests pass a fake one.
        launcher: Starts runs (default: a ``headrace run`` child process per run).
        tick: Longest sleep between looks at the schedules table, in seconds.
        stop_grace: Seconds in-flight runs get to cancel on SIGTERM before they are killed.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        now: Callable[[], datetime] | None = None,
        launcher: Launcher | None = None,
        tick: float = 1.0,
        stop_grace: float = 30.0,
    ):
        self.ws = workspace
        self.store = SchedulerStore(workspace.history)
        self.now = now or (lambda: datetime.now(UTC))
        self.launcher = launcher or SubprocessLauncher()
        self.tick, self.stop_grace = tick, stop_grace
        self.runs = Runs(workspace, self.store, self.launcher)
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

    # the loop ---------------------------------------------------------------------------
    def serve(self) -> None:
        """Run until SIGTERM/SIGINT, then cancel in-flight runs and return (holds the lock)."""
        with WorkspaceLock(self.ws.root):
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
            log.info("daemon started (pid %d) for workspace %s", os.getpid(), self.ws.root)
            self.recover()
            try:
                while not self.stopping.is_set():
                    self.step()
                    self.wake.wait(self._sleep())
                    self.wake.clear()
            finally:
                self.shutdown()

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
        for sched in self.schedules.values():
            if sched.timing is not None:
                self._tick_time(sched, now)
        self._busy = {f.schedule for f in self.store.firings([PENDING, RUNNING])}
        for name, watch in list(self.watches.items()):
            if self._deferred(name):
                continue
            change = watch.check()
            if change is not None:
                self._fire_trigger(self.schedules[name], watch, change, now)
        self.runs.reap()
        self.runs.launch(self.schedules)

    def _deferred(self, name: str) -> bool:
        """Overlap "skip" on a trigger: leave changes unconsumed until the running run ends."""
        if name in self._busy and self.schedules[name].overlap == "skip":
            if name not in self._deferring:
                self._deferring.add(name)
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
            seen = self._rows.get(name)
            if seen == row:
                continue
            changed_spec = seen is None or (seen.pipeline, seen.spec) != (row.pipeline, row.spec)
            self._rows[name] = row
            sched = Schedule.from_row(row)
            self.schedules[name] = sched
            self._next_fire.pop(name, None)
            if sched.trigger is not None and (changed_spec or name not in self.watches):
                self._watch(sched)

    def _drop(self, name: str) -> None:
        self.schedules.pop(name, None)
        self._rows.pop(name, None)
        self._next_fire.pop(name, None)
        if self.watches.pop(name, None) is not None:
            self.hub.remove(name)
        log.info("schedule %s: removed or disabled; no longer fired", name)

    def _watch(self, sched: Schedule) -> None:
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
        return Firing(run_id, sched.name, fire_time.timestamp(), reason, state, dict(params))

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
            params = {**sched.params, **self._data_params(sched, sorted(change.changed))}
            firing = self._decide(sched, now, "trigger", params)
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

    def _data_params(self, sched: Schedule, files: list[str]) -> dict[str, str]:
        """The data parameter: the files (list[Path]), or the file or folder (Path)."""
        spec = sched.trigger
        if spec is None or not spec.data_path_param:
            return {}
        if self._wants_list(sched, spec.data_path_param):
            return {spec.data_path_param: ",".join(files)}
        return {spec.data_path_param: files[0] if len(files) == 1 else spec.path}

    def _wants_list(self, sched: Schedule, param: str) -> bool:
        """Whether ``param`` gets several files: the engine classifies its type as PATHS."""
        from headrace.engine.definitions.loader import load_pipeline
        from headrace.scheduler.validate import parameter_kind

        try:
            return parameter_kind(load_pipeline(sched.pipeline), param) == PATHS
        except Exception:  # the run itself will report the broken file
            return True

    # runs (scheduler/runs.py keeps the bookkeeping) ------------------------------------
    def recover(self) -> None:
        """After a restart: relaunch decided runs that never started; adopt runs still going."""
        self.runs.recover()

    def shutdown(self) -> None:
        """Cancel in-flight runs (SIGINT, then SIGKILL after ``stop_grace``) and stop watching."""
        self.hub.stop()
        self.runs.stop(self.stop_grace)
        if self._stat_cache is not None:
            self._stat_cache.close()
        log.info("daemon stopped")
