"""The scheduler's tables (schedules, firings, trigger cursors, faults) in the workspace database.

Only these tables: what the engine recorded about runs is read through ``History``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

from headrace.engine.store.history import History
from headrace.scheduler.records import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    DAEMON_FAULT,
    DONE,
    PENDING,
    QUEUED,
    RUN_FAULT,
    RUNNING,
    SKIPPED,
    Firing,
    ScheduleFault,
    ScheduleRow,
    attempt_run_id,
)

__all__ = [  # the records are re-exported: the store reads and writes them
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "DAEMON_FAULT",
    "DONE",
    "PENDING",
    "QUEUED",
    "RUNNING",
    "RUN_FAULT",
    "SKIPPED",
    "Firing",
    "ScheduleFault",
    "ScheduleRow",
    "SchedulerStore",
    "attempt_run_id",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY, pipeline TEXT NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL,
    params TEXT NOT NULL, catch_up TEXT NOT NULL, overlap TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    cursor_time REAL);
CREATE TABLE IF NOT EXISTS firings (
    run_id TEXT PRIMARY KEY, schedule TEXT NOT NULL, fire_time REAL NOT NULL,
    reason TEXT NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL, decided_at REAL NOT NULL,
    launched_at REAL, finished_at REAL, exit_code INTEGER, note TEXT);
CREATE INDEX IF NOT EXISTS firings_schedule ON firings(schedule, fire_time);
CREATE TABLE IF NOT EXISTS trigger_cursors (
    schedule TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (schedule, path));
CREATE TABLE IF NOT EXISTS schedule_faults (
    schedule TEXT PRIMARY KEY, source TEXT NOT NULL, error TEXT NOT NULL,
    failures INTEGER NOT NULL, failed_at REAL NOT NULL, retry_at REAL NOT NULL);
"""

#: Columns later versions added to ``firings`` (added in place to an older workspace):
#: the attempt (a re-fire runs as ``RUN_ID-aN``), the parameter holding the changed files,
#: the earliest next attempt (retry backoff), the child process started for it, and whether
#: it is to be fired again (its run did not complete).
_FIRING_COLUMNS = {
    "attempt": "INTEGER NOT NULL DEFAULT 1",
    "data_param": "TEXT",
    "not_before": "REAL",
    "child_pid": "INTEGER",
    "child_start": "TEXT",
    "refire": "INTEGER NOT NULL DEFAULT 0",
}

#: Columns later versions added to ``schedules``: how its runs execute and what its pipeline
#: is called (JSON: executor, dask_address, pipeline_name).
_SCHEDULE_COLUMNS = {"options": "TEXT NOT NULL DEFAULT '{}'"}


class SchedulerStore:
    """Reads and writes the scheduler's tables; each write is one transaction.

    Args:
        history: The workspace's ``History`` (its SQLite file holds these tables too).
    """

    def __init__(self, history: History):
        self.history = history
        self.absent = False  # a read-only workspace that never had schedules
        if history.read_only:  # a read-only workspace: its tables are read as they are
            found = history.query("SELECT 1 FROM sqlite_master WHERE name='schedule_faults'")
            self.absent = not found
            return
        with history.transaction() as c:
            for statement in (s.strip() for s in _SCHEMA.split(";")):
                if statement:
                    c.execute(statement)
            for table, columns in (("firings", _FIRING_COLUMNS), ("schedules", _SCHEDULE_COLUMNS)):
                have = {r[1] for r in c.execute(f"PRAGMA table_info({table})").fetchall()}
                for column, decl in columns.items():
                    if column not in have:
                        c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    # schedules --------------------------------------------------------------------------
    def insert_schedule(self, row: ScheduleRow, cursor: Mapping[str, str]) -> bool:
        """Insert a schedule and its initial trigger cursor; False if the name is taken."""
        columns = row.columns()
        cols = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        with self.history.transaction() as c:
            try:
                c.execute(
                    f"INSERT INTO schedules ({cols}) VALUES ({marks})", tuple(columns.values())
                )
            except sqlite3.IntegrityError:
                return False
            c.execute("DELETE FROM trigger_cursors WHERE schedule=?", (row.name,))
            c.executemany(
                "INSERT INTO trigger_cursors VALUES (?,?,?)",
                [(row.name, p, fp) for p, fp in cursor.items()],
            )
        return True

    def schedules(self, enabled_only: bool = False) -> list[ScheduleRow]:
        """Every schedule, by name."""
        if self.absent:
            return []
        where = " WHERE enabled=1" if enabled_only else ""
        rows = self.history.query(f"SELECT * FROM schedules{where} ORDER BY name")
        return [ScheduleRow.from_row(r) for r in rows]

    def schedule(self, name: str) -> ScheduleRow | None:
        """The schedule called ``name``, or None."""
        rows = self.history.query("SELECT * FROM schedules WHERE name=?", (name,))
        return ScheduleRow.from_row(rows[0]) if rows else None

    def set_enabled(self, name: str, enabled: bool, now: float) -> bool:
        """Enable or disable; enabling restarts the time cursor at ``now`` (no catch-up)."""
        with self.history.transaction() as c:
            cur = c.execute(
                "UPDATE schedules SET enabled=?, updated_at=?, cursor_time=CASE WHEN ? THEN ? "
                "ELSE cursor_time END WHERE name=?",
                (int(enabled), now, int(enabled), now, name),
            )
            return cur.rowcount > 0

    def delete_schedule(self, name: str, now: float | None = None) -> bool:
        """Delete a schedule and its cursor; its firings stay as history, given up.

        Its queued and pending firings are skipped and its interrupted ones are not fired
        again, in the same transaction. Every firing of the schedule is then filed under
        ``NAME (deleted ...)``, so a new schedule with the same name never takes over one
        (a run still going when the schedule is deleted included).
        """
        now = time.time() if now is None else now
        gone = f"{name} (deleted {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now))})"
        with self.history.transaction() as c:
            cur = c.execute("DELETE FROM schedules WHERE name=?", (name,))
            c.execute("DELETE FROM trigger_cursors WHERE schedule=?", (name,))
            c.execute("DELETE FROM schedule_faults WHERE schedule=?", (name,))
            c.execute(
                "UPDATE firings SET state=?, finished_at=?, note='schedule deleted' "
                "WHERE schedule=? AND state IN (?, ?)",
                (SKIPPED, now, name, PENDING, QUEUED),
            )
            c.execute(
                "UPDATE firings SET refire=0, note='schedule deleted; not fired again' "
                "WHERE schedule=? AND refire=1",
                (name,),
            )
            c.execute("UPDATE firings SET schedule=? WHERE schedule=?", (gone, name))
            return cur.rowcount > 0

    # firings ----------------------------------------------------------------------------
    def insert_firings(self, firings: Iterable[Firing], now: float) -> None:
        """Record firings (an existing run id is left as it is)."""
        with self.history.transaction() as c:
            _insert_firings(c, firings, now)

    def record_time_firings(
        self, name: str, firings: Iterable[Firing], cursor_time: float, now: float
    ) -> None:
        """Record firings and move the schedule's time cursor, atomically."""
        with self.history.transaction() as c:
            _insert_firings(c, firings, now)
            c.execute("UPDATE schedules SET cursor_time=? WHERE name=?", (cursor_time, name))

    def record_trigger_firing(
        self,
        name: str,
        firing: Firing | None,
        seen: Mapping[str, str],
        removed: Iterable[str],
        now: float,
    ) -> None:
        """Record a trigger firing and update its cursor in the same transaction.

        Args:
            name: The schedule's name.
            firing: The firing, or None to only update the cursor.
            seen: Path -> fingerprint of the files the firing handles.
            removed: Paths that no longer exist.
            now: Decision time (epoch seconds).
        """
        with self.history.transaction() as c:
            if firing is not None:
                _insert_firings(c, [firing], now)
            for path in removed:
                c.execute("DELETE FROM trigger_cursors WHERE path=? AND schedule=?", (path, name))
            c.executemany(
                "INSERT OR REPLACE INTO trigger_cursors VALUES (?,?,?)",
                [(name, p, fp) for p, fp in seen.items()],
            )

    def cursor(self, name: str) -> dict[str, str]:
        """The trigger cursor of a schedule: path -> fingerprint."""
        rows = self.history.query(
            "SELECT path, fingerprint FROM trigger_cursors WHERE schedule=?", (name,)
        )
        return {r["path"]: r["fingerprint"] for r in rows}

    def firings(self, states: Iterable[str], schedule: str | None = None) -> list[Firing]:
        """Firings in any of ``states`` (optionally of one schedule), oldest first."""
        states = list(states)
        sql = f"SELECT * FROM firings WHERE state IN ({', '.join('?' for _ in states)})"
        args: list[Any] = list(states)
        if schedule is not None:
            sql += " AND schedule=?"
            args.append(schedule)
        rows = self.history.query(sql + " ORDER BY fire_time, decided_at", args)
        return [Firing.from_row(r) for r in rows]

    def set_state(
        self,
        run_id: str,
        state: str,
        now: float,
        exit_code: int | None = None,
        note: str | None = None,
    ) -> None:
        """Move a firing to ``state`` (RUNNING stamps launched_at, DONE finished_at)."""
        column = {RUNNING: "launched_at", DONE: "finished_at"}.get(state)
        stamp = f", {column}=?" if column else ""
        args: list[Any] = [state, exit_code, note] + ([now] if column else []) + [run_id]
        with self.history.transaction() as c:
            c.execute(
                f"UPDATE firings SET state=?, exit_code=COALESCE(?, exit_code), "
                f"note=COALESCE(?, note){stamp} WHERE run_id=?",
                args,
            )

    def set_child(self, run_id: str, pid: int | None, started: str | None) -> None:
        """Record the process started for a firing (so a restarted daemon can adopt it)."""
        with self.history.transaction() as c:
            c.execute(
                "UPDATE firings SET child_pid=?, child_start=? WHERE run_id=?",
                (pid, started, run_id),
            )

    def mark_refire(
        self, run_id: str, now: float, not_before: float | None, note: str, exit_code: int | None
    ) -> None:
        """Mark a firing whose run did not complete: done for now, fired again once due.

        Args:
            run_id: The run that did not complete (never started again).
            now: Epoch seconds.
            not_before: When the next attempt may start (None: at the daemon's next pass).
            note: Why, for ``schedule list`` and the logs.
            exit_code: The child's exit code, if known.
        """
        with self.history.transaction() as c:
            c.execute(
                "UPDATE firings SET state=?, finished_at=?, exit_code=COALESCE(?, exit_code), "
                "note=?, refire=1, not_before=? WHERE run_id=?",
                (DONE, now, exit_code, note, not_before, run_id),
            )

    def rearm_due(self, now: float) -> list[tuple[str, Firing]]:
        """Give each marked firing that is due its next attempt (pending, a new run id).

        The firing keeps its row (one firing, one row: never doubled) and gets the next
        attempt's deterministic run id in the same transaction, before any launch.

        Returns:
            (the run id that did not complete, the firing as re-armed), oldest first.
        """
        rearmed = []
        with self.history.transaction() as c:
            rows = c.execute(  # a disabled schedule's wait until it is enabled again
                "SELECT * FROM firings WHERE state=? AND refire=1 AND "
                "(not_before IS NULL OR not_before<=?) AND schedule NOT IN "
                "(SELECT name FROM schedules WHERE enabled=0) ORDER BY fire_time, decided_at",
                (DONE, now),
            )
            cols = [d[0] for d in rows.description]
            for old in [Firing.from_row(dict(zip(cols, r, strict=True))) for r in rows]:
                attempt = old.attempt + 1
                run_id = attempt_run_id(old.run_id, old.attempt, attempt)
                c.execute(
                    "UPDATE firings SET run_id=?, attempt=?, state=?, refire=0, not_before=NULL, "
                    "launched_at=NULL, finished_at=NULL, exit_code=NULL, child_pid=NULL, "
                    "child_start=NULL WHERE run_id=?",
                    (run_id, attempt, PENDING, old.run_id),
                )
                new = Firing(
                    run_id,
                    old.schedule,
                    old.fire_time,
                    old.reason,
                    PENDING,
                    old.params,
                    attempt,
                    old.data_param,
                )
                rearmed.append((old.run_id, new))
        return rearmed

    def firing(self, run_id: str) -> Firing | None:
        """The firing whose current run id is ``run_id``, or None."""
        rows = self.history.query("SELECT * FROM firings WHERE run_id=?", (run_id,))
        return Firing.from_row(rows[0]) if rows else None

    # faults -----------------------------------------------------------------------------
    def record_fault(
        self, name: str, source: str, error: str, now: float, base: float = BACKOFF_BASE
    ) -> ScheduleFault:
        """Record that firing schedule ``name`` failed; the retry waits longer each time.

        Returns:
            The fault, with its ``retry_at`` (``base`` seconds doubling, at most BACKOFF_CAP).
        """
        with self.history.transaction() as c:
            row = c.execute(
                "SELECT failures FROM schedule_faults WHERE schedule=?", (name,)
            ).fetchone()
            failures = (row[0] if row else 0) + 1
            retry_at = now + min(base * 2 ** min(failures - 1, 32), BACKOFF_CAP)
            c.execute(
                "INSERT OR REPLACE INTO schedule_faults VALUES (?,?,?,?,?,?)",
                (name, source, error, failures, now, retry_at),
            )
        return ScheduleFault(name, source, error, failures, now, retry_at)

    def clear_fault(self, name: str, source: str | None = None) -> None:
        """Forget a schedule's fault (only one from ``source``, when given)."""
        sql, args = "DELETE FROM schedule_faults WHERE schedule=?", [name]
        if source is not None:
            sql, args = sql + " AND source=?", [name, source]
        with self.history.transaction() as c:
            c.execute(sql, args)

    def faults(self) -> dict[str, ScheduleFault]:
        """Every schedule's current fault, by schedule name (``schedule list`` shows them)."""
        if self.absent:
            return {}
        rows = self.history.query("SELECT * FROM schedule_faults ORDER BY schedule")
        return {r["schedule"]: ScheduleFault(**r) for r in rows}

    def fault(self, name: str) -> ScheduleFault | None:
        """The current fault of schedule ``name``, or None."""
        return self.faults().get(name)

    def last_firing(self, name: str) -> Firing | None:
        """The newest started (running or done) firing of a schedule, or None."""
        rows = self.history.query(
            "SELECT * FROM firings WHERE schedule=? AND state IN (?,?) "
            "ORDER BY fire_time DESC, decided_at DESC LIMIT 1",
            (name, RUNNING, DONE),
        )
        return Firing.from_row(rows[0]) if rows else None


def _insert_firings(c: Any, firings: Iterable[Firing], now: float) -> None:
    c.executemany(
        "INSERT OR IGNORE INTO firings (run_id, schedule, fire_time, reason, state, params, "
        "decided_at, attempt, data_param, not_before) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (
                f.run_id,
                f.schedule,
                f.fire_time,
                f.reason,
                f.state,
                json.dumps(f.params),
                now,
                f.attempt,
                f.data_param,
                f.not_before,
            )
            for f in firings
        ],
    )
