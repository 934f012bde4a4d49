"""The scheduler's tables (schedules, firings, trigger cursors) in the workspace database.

Only these tables: what the engine recorded about runs is read through ``History``.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from headrace.engine.store.history import History

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
"""

#: Firing states: decided and waiting to start, waiting for a previous run (overlap=queue),
#: started, finished, or not run at all (overlap=skip, catch-up=none).
PENDING, QUEUED, RUNNING, DONE, SKIPPED = "pending", "queued", "running", "done", "skipped"


@dataclass(frozen=True)
class ScheduleRow:
    """One ``schedules`` row as stored: the spec and parameters are JSON text.

    Attributes:
        name: The schedule's name.
        pipeline: ``FILE.py[:PIPELINE]`` with an absolute file path.
        kind: "cron", "recurrence" or "trigger".
        spec: The timing's or trigger's ``to_dict()``, as JSON.
        params: Parameter values as text, as JSON.
        catch_up: "none", "latest" or "all".
        overlap: "skip", "queue" or "allow".
        enabled: Whether the daemon fires it.
        created_at: Epoch seconds.
        updated_at: Epoch seconds of the last enable or disable.
        cursor_time: Fires up to this instant (epoch seconds) were decided (time schedules).
    """

    name: str
    pipeline: str
    kind: str
    spec: str
    params: str
    catch_up: str
    overlap: str
    enabled: bool
    created_at: float
    updated_at: float
    cursor_time: float | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ScheduleRow:
        """Build the record from a ``schedules`` row."""
        values = {f.name: row[f.name] for f in dataclasses.fields(cls)}
        return cls(**{**values, "enabled": bool(values["enabled"])})

    def columns(self) -> dict[str, Any]:
        """Column name -> value, for an INSERT."""
        return {**dataclasses.asdict(self), "enabled": int(self.enabled)}


@dataclass(frozen=True)
class Firing:
    """One decision to run a schedule's pipeline, keyed by its deterministic run id.

    Attributes:
        run_id: The run id, derived from the schedule name and the fire time.
        schedule: The schedule's name.
        fire_time: When it was due (epoch seconds).
        reason: "schedule", "catch-up", "trigger" or "manual".
        state: One of PENDING, QUEUED, RUNNING, DONE, SKIPPED.
        params: Parameter values as text, as for ``--param k=v``.
    """

    run_id: str
    schedule: str
    fire_time: float
    reason: str
    state: str
    params: dict[str, str]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Firing:
        """Build a firing from a ``firings`` row."""
        return cls(
            row["run_id"],
            row["schedule"],
            row["fire_time"],
            row["reason"],
            row["state"],
            json.loads(row["params"]),
        )


class SchedulerStore:
    """Reads and writes the scheduler's tables; each write is one transaction.

    Args:
        history: The workspace's ``History`` (its SQLite file holds these tables too).
    """

    def __init__(self, history: History):
        self.history = history
        with history.transaction() as c:
            for statement in (s.strip() for s in _SCHEMA.split(";")):
                if statement:
                    c.execute(statement)

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

    def delete_schedule(self, name: str) -> bool:
        """Delete a schedule and its cursor (its firings stay as history)."""
        with self.history.transaction() as c:
            cur = c.execute("DELETE FROM schedules WHERE name=?", (name,))
            c.execute("DELETE FROM trigger_cursors WHERE schedule=?", (name,))
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
        "decided_at) VALUES (?,?,?,?,?,?,?)",
        [
            (f.run_id, f.schedule, f.fire_time, f.reason, f.state, json.dumps(f.params), now)
            for f in firings
        ],
    )
