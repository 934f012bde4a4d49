"""Run history in SQLite (WAL): runs, step runs, metrics, artifacts, step outputs, cache index."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import RunExistsError
from ..status import Status
from .artifacts import ArtifactRecord
from .processes import pid_alive, process_start_time
from .run_records import RUN_DIED, RunRecords
from .run_writes import artifact_row, update_run_op, update_steps_op
from .stored_values import SCHEMA as STORED_VALUES_SCHEMA
from .stored_values import decode_params, params_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, experiment TEXT, status TEXT NOT NULL,
    params TEXT NOT NULL, executor TEXT, regenerate_outputs INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL, error TEXT,
    source TEXT, pid INTEGER, tags TEXT, outputs TEXT, pid_start TEXT, code TEXT,
    cancel_requested TEXT);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
CREATE TABLE IF NOT EXISTS step_runs (
    run_id TEXT NOT NULL, step TEXT NOT NULL, component TEXT NOT NULL, status TEXT NOT NULL,
    reused INTEGER NOT NULL DEFAULT 0, reused_from TEXT, reason TEXT, attempts INTEGER DEFAULT 0,
    started_at REAL, finished_at REAL, duration REAL, error TEXT, traceback TEXT,
    cache_key TEXT, code_fp TEXT, inputs TEXT, position INTEGER,
    PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, step TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,
    value TEXT, logged_at REAL, PRIMARY KEY (run_id, step, name, seq));
CREATE TABLE IF NOT EXISTS artifacts (
    fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, fmt TEXT NOT NULL, uri TEXT NOT NULL,
    size INTEGER NOT NULL, flavor TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS step_outputs (
    run_id TEXT NOT NULL, step TEXT NOT NULL, name TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (run_id, step, name));
CREATE INDEX IF NOT EXISTS step_outputs_fp ON step_outputs(fingerprint);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY, run_id TEXT NOT NULL, step TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS step_attempts (
    run_id TEXT NOT NULL, step TEXT NOT NULL, attempt INTEGER NOT NULL, ok INTEGER NOT NULL,
    started_at REAL, finished_at REAL, error TEXT, logs TEXT, log_chars INTEGER,
    PRIMARY KEY (run_id, step, attempt));
"""
# Forgetting a run (gc) forgets its attempts; a trigger keeps that out of every caller.
_TRIGGERS = (
    (
        "step_attempts_forget",
        "CREATE TRIGGER IF NOT EXISTS step_attempts_forget AFTER DELETE ON runs BEGIN "
        "DELETE FROM step_attempts WHERE run_id = OLD.id; END",
    ),
)

SNAPSHOT_STEP = ""
"""The step name a run's code snapshot is recorded under in step_outputs (no step has it)."""


class History(RunRecords):
    """The workspace's run history. Safe to share between threads; several processes may use one file.

    Args:
        path: the SQLite file (created with its schema when missing).
    """

    def __init__(self, path: Path):
        super().__init__(path, _SCHEMA + ";\n" + STORED_VALUES_SCHEMA)
        self._add_column("runs", "pid_start", "TEXT")
        self._add_column("runs", "code", "TEXT")
        self._add_column("runs", "cancel_requested", "TEXT")
        self._add_triggers()

    def _add_triggers(self) -> None:
        """Create the triggers a database from an earlier headrace lacks (idempotent)."""
        names = {
            r["name"] for r in self.query("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        missing = [t for name, t in _TRIGGERS if name not in names]
        if missing and not self.read_only:
            with self.transaction() as c:
                for trigger in missing:
                    c.execute(trigger)

    def _add_column(self, table: str, column: str, decl: str) -> None:
        """Add a column a database from an earlier headrace lacks (idempotent, race-free)."""

        def present() -> bool:
            rows = self._conn.execute(f"PRAGMA table_info({table})").fetchall()
            return any(r[1] == column for r in rows)

        with self._lock:
            if present() or self.read_only:
                return
        with self.transaction() as c:
            if not present():
                c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    # runs -------------------------------------------------------------------------------
    def create_run(self, run: dict[str, Any], steps: Iterable[tuple[str, str]]) -> None:
        """Insert a run and one NotStarted row per (step, component), in one transaction.

        The recording process's start time is kept with its pid (``run["pid_start"]``, else
        read now), so liveness checks never take a later process that reuses the pid for it.
        """
        pid = run.get("pid")
        pid_start = run.get("pid_start") or (process_start_time(pid) if pid else None)
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM runs WHERE id=?", (run["id"],)).fetchone():
                raise RunExistsError(
                    f"a run with id {run['id']!r} already exists in {self.path}; "
                    "leave run_id unset for a new id"
                )
            c.execute(
                "INSERT INTO runs (id, pipeline, experiment, status, params, executor, "
                "regenerate_outputs, created_at, source, pid, outputs, pid_start, code, tags) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run["id"],
                    run["pipeline"],
                    run.get("experiment"),
                    run["status"],
                    params_json(c, run["params"]),
                    run.get("executor"),
                    int(run.get("regenerate_outputs", False)),
                    run["created_at"],
                    run.get("source"),
                    pid,
                    json.dumps(run.get("outputs", {})),
                    pid_start,
                    json.dumps(run["code"]) if run.get("code") else None,
                    json.dumps(run["tags"]) if run.get("tags") else None,
                ),
            )
            snapshot: ArtifactRecord | None = run.get("snapshot")
            if snapshot is not None:  # kept (by gc) as long as the run is
                _add_outputs(c, run["id"], SNAPSHOT_STEP, [("code", snapshot)])
            c.executemany(
                "INSERT INTO step_runs (run_id, step, component, status, position) VALUES (?,?,?,?,?)",
                [(run["id"], s, comp, Status.NOT_STARTED, i) for i, (s, comp) in enumerate(steps)],
            )

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set run columns (status, started_at, finished_at, error, tags)."""
        with self.transaction() as c:
            update_run_op(c, run_id, fields)

    def update_steps(self, run_id: str, updates: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Set step columns for several steps in one transaction."""
        with self.transaction() as c:
            update_steps_op(c, run_id, updates)

    def reap_dead_runs(self) -> list[str]:
        """Mark runs Failed whose recording process died (killed, crashed); returns their ids.

        A run is "Running" only while the process that started it lives; after SIGKILL or a
        power cut nothing else would ever finish its record. A live process with the recorded
        pid but another start time reuses the pid of the dead one: the run is dead too.
        """
        rows = self.query(
            "SELECT id, pid, pid_start FROM runs WHERE status=? AND pid IS NOT NULL",
            (Status.RUNNING,),
        )
        dead = [r["id"] for r in rows if not pid_alive(r["pid"], r["pid_start"])]
        if not dead or self.read_only:  # a read-only workspace is shown as it is
            return []
        now = time.time()
        with self.transaction() as c:
            for rid in dead:
                c.execute(
                    "UPDATE runs SET status=?, finished_at=?, error=? WHERE id=? AND status=?",
                    (Status.FAILED, now, RUN_DIED, rid, Status.RUNNING),
                )
                c.execute(
                    "UPDATE step_runs SET status=?, error=? WHERE run_id=? AND status=?",
                    (Status.FAILED, "the process running this step died", rid, Status.RUNNING),
                )
                c.execute(
                    "UPDATE step_runs SET status=? WHERE run_id=? AND status IN (?, ?)",
                    (Status.SKIPPED, rid, Status.NOT_STARTED, Status.QUEUED),
                )
        for rid in dead:
            self._keep_spools(rid, now)
        return dead

    # reads ------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """The run row (params decoded), or None."""
        rows = self.query("SELECT * FROM runs WHERE id=?", (run_id,))
        if not rows:
            return None
        row = dict(rows[0])
        row["params"] = decode_params(row["params"], self._stored_value)
        row["outputs"] = json.loads(row["outputs"] or "{}")
        row["code"] = json.loads(row["code"]) if row.get("code") else None
        row["tags"] = json.loads(row["tags"]) if row.get("tags") else {}
        return row

    def _stored_value(self, digest: str) -> str | None:
        rows = self.query("SELECT json FROM stored_values WHERE digest=?", (digest,))
        return rows[0]["json"] if rows else None

    def run_status(self, run_id: str) -> Status | None:
        """The status of run ``run_id``, or None when no run with that id is recorded."""
        rows = self.query("SELECT status FROM runs WHERE id=?", (run_id,))
        return Status(rows[0]["status"]) if rows else None

    def run_ended(self, run_id: str) -> bool:
        """Whether run ``run_id`` is over: its status is final, or no live process records it.

        A run whose recording process died (SIGKILL, a power cut) stays "Running" in the
        table until ``reap_dead_runs``; this already counts it as ended, as it does a run whose
        pid now belongs to a process that started at another time. False when no run with that
        id is recorded (it may not have started yet).
        """
        rows = self.query("SELECT status, pid, pid_start FROM runs WHERE id=?", (run_id,))
        if not rows:
            return False
        status, pid = Status(rows[0]["status"]), rows[0]["pid"]
        return status.is_final or not pid or not pid_alive(pid, rows[0]["pid_start"])

    def find_run_ids(self, prefix: str) -> list[str]:
        """Run ids starting with ``prefix``, taken literally (so users may type a unique
        prefix; ``%`` and ``_`` are characters, not patterns). An empty prefix matches none."""
        if not prefix:
            return []
        rows = self.query(
            "SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY created_at DESC",
            (len(prefix), prefix),
        )
        return [r["id"] for r in rows]

    def list_runs(
        self,
        limit: int | None = None,
        pipeline: str | None = None,
        *,
        status: str | None = None,
        since: float | None = None,
        schedule: str | None = None,
    ) -> list[dict[str, Any]]:
        """Runs newest first, optionally only of one pipeline, status, schedule, or since then.

        A schedule's runs are those tagged with it, or with its run ids
        (``sched-NAME-<UTC time>Z``, ``...-aN`` for a firing's later attempts).
        """
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("pipeline", pipeline), ("status", status)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        if since is not None:
            where.append("created_at>=?")
            args.append(since)
        if schedule is not None:
            where.append("(json_extract(tags, '$.schedule') = ? OR id GLOB ?)")
            escaped = re.sub(r"([*?\[])", r"[\1]", schedule)
            args.extend([schedule, f"sched-{escaped}-[0-9]*T[0-9]*Z*"])
        failed_step = (  # why a Failed run failed: its first failed step
            "(SELECT s.step || ': ' || s.error FROM step_runs s WHERE s.run_id = runs.id AND "
            f"s.status = '{Status.FAILED.value}' ORDER BY s.finished_at LIMIT 1) AS step_error"
        )
        sql = f"SELECT *, {failed_step} FROM runs" + (
            " WHERE " + " AND ".join(where) if where else ""
        )
        sql += " ORDER BY created_at DESC, rowid DESC" + (f" LIMIT {int(limit)}" if limit else "")
        rows = [dict(r) for r in self.query(sql, args)]
        for r in rows:
            r["params"] = decode_params(r["params"])  # large values as placeholders
            r["code"] = json.loads(r["code"]) if r.get("code") else None
            r["tags"] = json.loads(r["tags"]) if r.get("tags") else {}
            r["outputs"] = json.loads(r["outputs"] or "{}")
        return rows

    def get_steps(self, run_id: str) -> list[dict[str, Any]]:
        """Step rows of a run in pipeline order."""
        rows = self.query("SELECT * FROM step_runs WHERE run_id=? ORDER BY position", (run_id,))
        return [dict(r) for r in rows]

    def get_metrics(self, run_id: str, step: str | None = None) -> list[dict[str, Any]]:
        """Metric rows (value decoded) in logging order."""
        sql = "SELECT * FROM metrics WHERE run_id=?" + (" AND step=?" if step else "")
        sql += " ORDER BY step, logged_at, seq"
        rows = [dict(r) for r in self.query(sql, (run_id, step) if step else (run_id,))]
        for r in rows:
            r["value"] = json.loads(r["value"])
        return rows

    def get_outputs(
        self, run_id: str, step: str | None = None
    ) -> list[tuple[str, str, ArtifactRecord]]:
        """(step, output name, artifact) for a run's recorded outputs."""
        sql = (
            "SELECT o.step, o.name, a.* FROM step_outputs o JOIN artifacts a "
            "ON a.fingerprint = o.fingerprint WHERE o.run_id=?" + (" AND o.step=?" if step else "")
        )
        rows = self.query(sql, (run_id, step) if step else (run_id,))
        return [(r["step"], r["name"], _record(r)) for r in rows]


def add_artifacts(c: sqlite3.Connection, records: Sequence[ArtifactRecord]) -> None:
    """List stored artifacts (those listed already are left as they are)."""
    now = time.time()
    c.executemany(
        "INSERT OR IGNORE INTO artifacts VALUES (?,?,?,?,?,?,?)",
        [artifact_row(a, now) for a in records],
    )


def _add_outputs(
    c: sqlite3.Connection, run_id: str, step: str, outputs: Sequence[tuple[str, ArtifactRecord]]
) -> None:
    if not outputs:
        return
    add_artifacts(c, [a for _, a in outputs])
    c.executemany(
        "INSERT OR REPLACE INTO step_outputs VALUES (?,?,?,?)",
        [(run_id, step, name, a.fingerprint) for name, a in outputs],
    )


def _record(row: dict[str, Any]) -> ArtifactRecord:
    return ArtifactRecord(
        row["fingerprint"], row["kind"], row["fmt"], row["uri"], row["size"], row["flavor"] or ""
    )
