"""The scheduler's typed records (a schedule row, a firing, a fault) and the firing states."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Where a schedule's fault came from: the daemon handling it (watch, list, decide, launch),
#: or a run of it that ended before it started (its pipeline file fails to load).
DAEMON_FAULT, RUN_FAULT = "daemon", "run"
#: Retry backoff: the first retry after this many seconds, doubling up to ``BACKOFF_CAP``.
BACKOFF_BASE, BACKOFF_CAP = 5.0, 600.0

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
        options: JSON: the executor its runs use (``executor``, ``dask_address``) and the
            pipeline's name (``pipeline_name``).
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
    options: str = "{}"

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
        attempt: 1, or N for the N-th run of a firing whose earlier runs did not complete.
        data_param: The parameter holding the trigger's changed files (``encode_files``).
        not_before: Epoch seconds before which it is not fired again (retry backoff), or None.
        child_pid: The process the daemon started for it, or None.
        child_start: That process's start time (``process_start_time``), or None.
        refire: Done for now, but its run did not complete: it is fired again when due.
    """

    run_id: str
    schedule: str
    fire_time: float
    reason: str
    state: str
    params: dict[str, str]
    attempt: int = 1
    data_param: str | None = None
    not_before: float | None = None
    child_pid: int | None = None
    child_start: str | None = None
    refire: bool = False

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
            row.get("attempt") or 1,
            row.get("data_param"),
            row.get("not_before"),
            row.get("child_pid"),
            row.get("child_start"),
            bool(row.get("refire")),
        )


def attempt_run_id(run_id: str, attempt: int, to: int) -> str:
    """The run id of attempt ``to`` of the firing whose attempt ``attempt`` is ``run_id``.

    Attempt 1 keeps the firing's id; attempt N is ``ID-aN``. Deterministic, so a crash between
    deciding a re-fire and launching it can never start two runs for one attempt.
    """
    suffix = f"-a{attempt}"
    base = run_id[: -len(suffix)] if attempt > 1 and run_id.endswith(suffix) else run_id
    return base if to <= 1 else f"{base}-a{to}"


@dataclass(frozen=True)
class ScheduleFault:
    """Why the daemon could not fire a schedule lately, and when it tries again.

    Attributes:
        schedule: The schedule's name.
        source: DAEMON_FAULT or RUN_FAULT.
        error: What went wrong (one line, or a short paragraph).
        failures: How many times in a row.
        failed_at: Epoch seconds of the last failure.
        retry_at: Epoch seconds of the next try.
    """

    schedule: str
    source: str
    error: str
    failures: int
    failed_at: float
    retry_at: float
