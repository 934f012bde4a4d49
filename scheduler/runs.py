"""The daemon's runs: start decided firings, reap ended ones, recover after a restart, stop."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

from headrace.engine.store.workspace import Workspace
from headrace.scheduler.launcher import Child, Launcher
from headrace.scheduler.schedule import Schedule
from headrace.scheduler.store import DONE, PENDING, QUEUED, RUNNING, SKIPPED, SchedulerStore

log = logging.getLogger("headrace.scheduler")


class Runs:
    """Moves recorded firings through their states as their runs start and end.

    The firings table is the truth: a firing is decided (pending or queued) before its run
    starts, marked running just before the launcher starts it, and done once it ended. What
    became of a run is read from the engine's ``History``, never from its tables.

    Args:
        workspace: The workspace.
        store: The workspace's scheduler tables.
        launcher: Starts runs.
    """

    def __init__(self, workspace: Workspace, store: SchedulerStore, launcher: Launcher):
        self.ws, self.store, self.launcher = workspace, store, launcher
        self.history = workspace.history
        self.children: dict[str, Child] = {}

    def recover(self) -> None:
        """After a restart: relaunch decided runs that never started; adopt runs still going."""
        for firing in self.store.firings([RUNNING]):
            status = self.history.run_status(firing.run_id)
            if status is None:
                self.store.set_state(
                    firing.run_id, PENDING, time.time(), note="relaunched after restart"
                )
                log.info(
                    "schedule %s: run %s was decided but never started; starting it",
                    firing.schedule,
                    firing.run_id,
                )
            elif status.is_final:
                self.store.set_state(firing.run_id, DONE, time.time())

    def launch(self, schedules: Mapping[str, Schedule]) -> None:
        """Start pending firings, and queued ones whose schedule has no run going.

        Args:
            schedules: The enabled schedules by name (others are read from the table).
        """
        busy = {f.schedule for f in self.store.firings([RUNNING])}
        for firing in self.store.firings([PENDING, QUEUED]):
            if firing.state == QUEUED and firing.schedule in busy:
                continue
            sched = schedules.get(firing.schedule) or self._stored(firing.schedule)
            if sched is None:
                self.store.set_state(firing.run_id, SKIPPED, time.time(), note="schedule deleted")
                continue
            busy.add(firing.schedule)
            if self.history.run_status(firing.run_id) is not None:  # started before a crash
                self.store.set_state(firing.run_id, RUNNING, time.time())
                continue
            self.store.set_state(firing.run_id, RUNNING, time.time())
            self.children[firing.run_id] = self.launcher.start(firing, sched.pipeline, self.ws.root)
            log.info(
                "schedule %s: started run %s %s",
                firing.schedule,
                firing.run_id,
                json.dumps(firing.params) if firing.params else "",
            )

    def _stored(self, name: str) -> Schedule | None:
        return Schedule.from_row(row) if (row := self.store.schedule(name)) else None

    def reap(self) -> None:
        """Mark firings done whose run ended (ours, or one an earlier daemon started)."""
        for run_id, child in list(self.children.items()):
            code = child.poll()
            if code is not None:
                del self.children[run_id]
                self._finished(run_id, code)
        for firing in self.store.firings([RUNNING]):
            # a run an earlier daemon started: over once final, or once its process died
            if firing.run_id not in self.children and self.history.run_ended(firing.run_id):
                self.store.set_state(firing.run_id, DONE, time.time())

    def _finished(self, run_id: str, code: int) -> None:
        status = self.history.run_status(run_id) or "never started"
        self.store.set_state(run_id, DONE, time.time(), exit_code=code)
        log.info("run %s finished: %s (exit %d)", run_id, status, code)

    def stop(self, grace: float) -> None:
        """Cancel in-flight runs: SIGINT, then SIGKILL for those still going after ``grace`` s."""
        self.reap()
        for run_id, child in self.children.items():
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
            self._finished(run_id, code)
