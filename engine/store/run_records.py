"""Step attempts with their logs, cancel requests and metric series: the History's run records."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ..status import Status
from .database import Database
from .spools import LOG_LIMIT, remove_run_folder, spooled, tail

RUN_DIED = "the process running it died (killed or crashed) before it finished"
"""The error ``reap_dead_runs`` records: the run was interrupted, not failed by its steps."""


class RunRecords(Database):
    """Queries and writes of ``step_attempts``, ``runs.cancel_requested`` and ``metrics``."""

    def request_cancel(self, run_id: str, why: str) -> bool:
        """Ask the process running ``run_id`` to cancel it (its runner polls for this).

        Returns:
            Whether the run was still running (so the request was recorded).
        """
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE runs SET cancel_requested=? WHERE id=? AND status=?",
                (why, run_id, Status.RUNNING),
            )
            return cur.rowcount > 0

    def cancel_requested(self, run_id: str) -> str | None:
        """Why someone asked to cancel run ``run_id``, or None when nobody did."""
        rows = self.query("SELECT cancel_requested FROM runs WHERE id=?", (run_id,))
        return rows[0]["cancel_requested"] if rows else None

    def _keep_spools(self, run_id: str, now: float) -> None:
        """Record what the attempts of a dead run spooled as their logs, and drop the spools."""
        root = self.path.parent
        steps = [
            r["step"] for r in self.query("SELECT step FROM step_runs WHERE run_id=?", (run_id,))
        ]
        left = spooled(root, run_id, steps)
        if left:
            with self.transaction() as c:
                for step, attempt, path in left:
                    logs, chars = tail(path, LOG_LIMIT)
                    c.execute(
                        "INSERT OR IGNORE INTO step_attempts VALUES (?,?,?,?,?,?,?,?,?)",
                        (run_id, step, attempt, 0, None, now, RUN_DIED, logs, chars),
                    )
            for _, _, path in left:
                with contextlib.suppress(OSError):
                    path.unlink()
        remove_run_folder(root, run_id)

    def metric_values(
        self, pipeline: str, metric: str, step: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every logged value of ``metric`` (of ``step`` only, when given) in the runs of
        ``pipeline`` (or in run ``run_id`` only), oldest run first, in logging order."""
        sql = (
            "SELECT r.id AS run_id, r.created_at, m.step, m.name, m.seq, m.value FROM metrics m "
            "JOIN runs r ON r.id = m.run_id WHERE r.pipeline=? AND m.name=?"
        )
        args: list[Any] = [pipeline, metric]
        if step:
            sql += " AND m.step=?"
            args.append(step)
        if run_id is not None:
            sql += " AND r.id=?"
            args.append(run_id)
        rows = [
            dict(r) for r in self.query(sql + " ORDER BY r.created_at, r.id, m.step, m.seq", args)
        ]
        for r in rows:
            r["value"] = json.loads(r["value"])
        return rows

    def metric_names(self, pipeline: str) -> list[str]:
        """``STEP.NAME`` of every metric logged in runs of ``pipeline``."""
        rows = self.query(
            "SELECT DISTINCT m.step, m.name FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.pipeline=? ORDER BY m.step, m.name",
            (pipeline,),
        )
        return [f"{r['step']}.{r['name']}" for r in rows]

    def get_attempts(
        self, run_id: str, step: str | None = None, logs: bool = True
    ) -> list[dict[str, Any]]:
        """Recorded attempts of a run's steps, by step then attempt number (``logs`` left out
        unless asked for)."""
        cols = (
            "*" if logs else "run_id, step, attempt, ok, started_at, finished_at, error, log_chars"
        )
        sql = f"SELECT {cols} FROM step_attempts WHERE run_id=?" + (" AND step=?" if step else "")
        rows = self.query(sql + " ORDER BY step, attempt", (run_id, step) if step else (run_id,))
        return [dict(r) for r in rows]
