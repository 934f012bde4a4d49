"""The daemon's runs: start decided firings, settle ended ones, recover after a restart, stop.

A firing whose run did not complete -- the daemon stopped it, its process died, or it ended
before it started -- is fired again as its next attempt (``RUN_ID-aN``, a new deterministic
run id recorded before the launch). Only a Completed or Failed run, or a user's cancel,
settles a firing for good. An attempt that ended before it started (its pipeline file does
not load, its process could not start) is recorded as a Failed run with the error
(``NOT_STARTED``), so ``runs list`` and ``runs show`` show it, and is fired again after a
backoff: a fixed file then runs the same firing.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping

from headrace.engine.errors import RunExistsError
from headrace.engine.status import Status
from headrace.engine.store.history import RUN_DIED
from headrace.engine.store.processes import pid_alive, process_start_time
from headrace.engine.store.workspace import Workspace
from headrace.scheduler.launcher import (
    STOPPED,
    TERMINATED,
    Child,
    Launcher,
    log_dir,
    stop_marker,
)
from headrace.scheduler.schedule import Schedule
from headrace.scheduler.store import (
    BACKOFF_BASE,
    DONE,
    PENDING,
    QUEUED,
    RUN_FAULT,
    RUNNING,
    SKIPPED,
    Firing,
    SchedulerStore,
)

log = logging.getLogger("headrace.scheduler")

#: What became of a firing's run: over for good (completed, failed, canceled by the user),
#: not completed (interrupted, or missing: the child ended before recording it), or going.
COMPLETED, FAILED, CANCELED = "completed", "failed", "canceled"
INTERRUPTED, MISSING, GOING = "interrupted", "missing", "going"
#: How the error of a Failed run the daemon records for an attempt that never started begins.
NOT_STARTED = "did not start: "


class Runs:
    """Moves recorded firings through their states as their runs start and end.

    The firings table is the truth: a firing is decided (pending or queued) before its run
    starts, marked running just before the launcher starts it, and done once it ended. What
    became of a run is read from the engine's ``History``, never from its tables.

    Args:
        workspace: The workspace.
        store: The workspace's scheduler tables.
        launcher: Starts runs.
        backoff: Seconds before the first retry of a run that ended before it started or
            died on its own (doubling with each failure in a row).
    """

    def __init__(
        self,
        workspace: Workspace,
        store: SchedulerStore,
        launcher: Launcher,
        backoff: float = BACKOFF_BASE,
    ):
        self.ws, self.store, self.launcher = workspace, store, launcher
        self.history = workspace.history
        self.children: dict[str, Child] = {}
        self.backoff = backoff

    def recover(self) -> None:
        """After a restart: settle runs that ended while no daemon watched; adopt runs going.

        A run the previous daemon stopped, or that died with it, is fired again at once, as
        is every firing waiting out a retry backoff (a restart is when a fix is likely).
        """
        for firing in self.store.firings([RUNNING]):
            outcome = self._outcome(firing, ended=False)
            if outcome != GOING:
                self._settle(firing, outcome, None, restart=True)
        self._rearm(math.inf)

    def launch(self, schedules: Mapping[str, Schedule]) -> None:
        """Re-arm due re-fires, then start pending firings and queued ones whose turn it is.

        A disabled schedule's firings wait (they run once it is enabled again); a deleted
        schedule's are skipped.

        Args:
            schedules: The enabled schedules by name (others are read from the table).
        """
        self._rearm(time.time())
        busy = {f.schedule for f in self.store.firings([RUNNING])}
        for firing in self.store.firings([PENDING, QUEUED]):
            sched = schedules.get(firing.schedule) or self._stored(firing.schedule)
            if sched is None:
                self.store.set_state(firing.run_id, SKIPPED, time.time(), note="schedule deleted")
                continue
            if not sched.enabled:
                continue
            # one run at a time unless "allow": queued fires, caught-up ones and re-fires run
            # one after another in fire-time order (the firings come oldest first)
            waits = sched.overlap != "allow" or firing.state == QUEUED
            if waits and firing.schedule in busy:
                continue
            busy.add(firing.schedule)
            if self.history.run_status(firing.run_id) is not None:  # started before a crash
                self.store.set_state(firing.run_id, RUNNING, time.time())
                continue
            self._start(firing, sched)

    def _rearm(self, now: float) -> None:
        for old, new in self.store.rearm_due(now):
            log.log(
                logging.INFO if new.attempt <= 2 else logging.DEBUG,
                "schedule %s: run %s did not complete; firing it again as run %s",
                new.schedule,
                old,
                new.run_id,
            )

    def _start(self, firing: Firing, sched: Schedule) -> None:
        self.store.set_state(firing.run_id, RUNNING, time.time())
        try:
            child = self.launcher.start(firing, sched.pipeline, self.ws.root)
        except Exception as exc:  # E2BIG, ENOMEM, no interpreter: this schedule only
            why = f"its process could not be started ({type(exc).__name__}: {exc})"
            self._retry(firing, f"could not be started: {why}", None, not_started=why)
            return
        self.children[firing.run_id] = child
        pid = getattr(child, "pid", None)
        if isinstance(pid, int):
            self.store.set_child(firing.run_id, pid, process_start_time(pid))
        release = getattr(child, "release", None)
        if release is not None:  # recorded: it may run (see SubprocessLauncher)
            release()
        shown = json.dumps(firing.params) if firing.params else ""
        log.log(
            logging.INFO if firing.attempt <= 2 else logging.DEBUG,
            "schedule %s: started run %s %s",
            firing.schedule,
            firing.run_id,
            shown if len(shown) <= 300 else shown[:300] + "...",
        )

    def _stored(self, name: str) -> Schedule | None:
        return Schedule.from_row(row) if (row := self.store.schedule(name)) else None

    def reap(self) -> None:
        """Settle firings whose run ended (ours, or one an earlier daemon started)."""
        for run_id, child in list(self.children.items()):
            code = child.poll()
            if code is not None:
                del self.children[run_id]
                if (firing := self.store.firing(run_id)) is not None:
                    self._settle(firing, self._outcome(firing, ended=True), code)
        for firing in self.store.firings([RUNNING]):
            if firing.run_id in self.children:
                continue
            outcome = self._outcome(firing, ended=False)
            if outcome == GOING or (outcome == MISSING and firing.child_pid is None):
                continue  # no process known that could still record it: wait
            self._settle(firing, outcome, None)

    def _outcome(self, firing: Firing, ended: bool) -> str:
        """What became of the firing's run; ``ended``: its child process is known to be over."""
        row = self.history.get_run(firing.run_id)
        if row is None:
            child = firing.child_pid
            alive = child is not None and pid_alive(child, firing.child_start)
            return MISSING if ended or not alive else GOING
        status = Status(row["status"])
        if status == Status.FAILED and str(row["error"] or "").startswith(NOT_STARTED):
            return MISSING  # recorded by the daemon: the attempt never started
        if not status.is_final:
            if not self.history.run_ended(firing.run_id):
                return GOING
            self.history.reap_dead_runs()  # its process died: record it Failed
            return INTERRUPTED
        if status == Status.COMPLETED:
            return COMPLETED
        if status == Status.CANCELED:
            error = row["error"]
            by_daemon = error == STOPPED or stop_marker(self.ws.root, firing.run_id).exists()
            return INTERRUPTED if by_daemon or error == TERMINATED else CANCELED
        return INTERRUPTED if row["error"] == RUN_DIED else FAILED

    def _settle(
        self,
        firing: Firing,
        outcome: str,
        code: int | None,
        *,
        stopping: bool = False,
        restart: bool = False,
    ) -> None:
        """Record the end of a firing's run; fire it again unless it is over for good."""
        run_id = firing.run_id
        if outcome == MISSING and code == 0:  # a launcher that records no run said it went well
            outcome = COMPLETED
        elif outcome == MISSING and code in (130, -2) and not stopping:  # SIGINT, not ours
            outcome = CANCELED
        if outcome in (COMPLETED, FAILED, CANCELED):
            note = "canceled by the user; not fired again" if outcome == CANCELED else None
            self.store.set_state(run_id, DONE, time.time(), exit_code=code, note=note)
            self.store.clear_fault(firing.schedule, RUN_FAULT)
            status = self.history.run_status(run_id) or "not recorded"
            log.info(
                "run %s finished: %s%s", run_id, status, "" if code is None else f" (exit {code})"
            )
        elif stopping or restart:
            why = "stopped with the daemon" if stopping else "interrupted while no daemon ran"
            self.store.mark_refire(run_id, time.time(), None, f"{why}; fired again", code)
            log.info("run %s %s; its firing runs again at the daemon's next start", run_id, why)
        elif outcome == MISSING:
            tail = self._tail(run_id)
            why = tail or f"its process ended (exit {code}) before it recorded the run"
            self._retry(
                firing, f"ended (exit {code}) before it started{tail and ': ' + tail}", code, why
            )
        else:
            error = (self.history.get_run(run_id) or {}).get("error") or "its process died"
            self._retry(firing, f"did not complete: {error}", code)
        stop_marker(self.ws.root, run_id).unlink(missing_ok=True)

    def _retry(
        self, firing: Firing, what: str, code: int | None, not_started: str | None = None
    ) -> None:
        """Record a fault on the firing's schedule; fire it again after the backoff.

        Args:
            firing: The firing whose run did not complete.
            what: What became of it, for the fault and the log.
            code: The child's exit code, if known.
            not_started: Why the attempt never started; it is then recorded as a Failed run.

        The same failure again (a broken pipeline file retried) is logged at DEBUG only:
        ``schedule list`` shows it, with the count.
        """
        now = time.time()
        error = f"run {firing.run_id} {what}"
        if self._stored(firing.schedule) is None:  # deleted while it ran: given up
            self.store.set_state(firing.run_id, DONE, now, code, f"{error}; schedule deleted")
            return
        before = self.store.fault(firing.schedule)
        fault = self.store.record_fault(firing.schedule, RUN_FAULT, error, now, self.backoff)
        self.store.mark_refire(firing.run_id, now, fault.retry_at, error, code)
        if not_started is not None:
            self._record_not_started(firing, not_started, now)
        again = before is not None and _what(before.error) == what
        log.log(
            logging.DEBUG if again else logging.WARNING,
            "schedule %s: %s; firing it again in %.0fs (failure %d in a row)",
            firing.schedule,
            error,
            fault.retry_at - now,
            fault.failures,
        )

    def _record_not_started(self, firing: Firing, why: str, now: float) -> None:
        """Record the attempt as a Failed run with its error (unless its run got recorded)."""
        sched = self._stored(firing.schedule)
        name = (sched.pipeline_name if sched else None) or firing.schedule
        run = {
            "id": firing.run_id,
            "pipeline": name,
            "status": Status.FAILED.value,
            "params": firing.params,
            "executor": sched.executor if sched else None,
            "created_at": now,
            "tags": {"schedule": firing.schedule},
            "source": sched.pipeline if sched else None,  # runs rerun can start it
        }
        try:
            self.history.create_run(run, [])
        except RunExistsError:
            return
        self.history.update_run(firing.run_id, finished_at=now, error=NOT_STARTED + why)
        from headrace.engine.cli.console import report_recorded_run  # typer, rich: on demand

        report_recorded_run(self.ws, firing.run_id)  # a Failed flow run in the Prefect UI too

    def _tail(self, run_id: str) -> str:
        """The last line of the run's log, to say why it did not start ("" when empty)."""
        try:
            text = (log_dir(self.ws.root) / f"{run_id}.log").read_text(errors="replace")
        except OSError:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        last = lines[-1][:400] if lines else ""
        return last.removeprefix("error: ")

    def stop(self, grace: float) -> None:
        """Cancel in-flight runs: SIGINT, then SIGKILL for those still going after ``grace`` s.

        Each is marked as the daemon's stop first, so it is fired again, not taken for a
        user's cancel, also by a daemon started after this one died.
        """
        self.reap()
        for run_id, child in self.children.items():
            marker = stop_marker(self.ws.root, run_id)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            log.info("canceling run %s", run_id)
            child.interrupt()
        deadline = time.monotonic() + grace
        for run_id, child in list(self.children.items()):
            code = child.wait(max(0.0, deadline - time.monotonic()))
            if code is None:
                log.warning("run %s did not stop within %gs; killing it", run_id, grace)
                child.kill()
                code = child.wait(5) or -9
            del self.children[run_id]
            if (firing := self.store.firing(run_id)) is not None:
                self._settle(firing, self._outcome(firing, ended=True), code, stopping=True)


def _what(error: str) -> str:
    """A fault's text without its leading ``run RUN_ID`` (the same failure of another run)."""
    return error.split(" ", 2)[2] if error.startswith("run ") and error.count(" ") >= 2 else error
