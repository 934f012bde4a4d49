"""Read-only views of recorded runs: PipelineRun, StepRun and Artifact."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HeadraceError, StepFailedError
from ..status import Status
from .artifacts import ArtifactRecord
from .integrity import INLINE

if TYPE_CHECKING:
    from .workspace import Workspace


@dataclass(frozen=True)
class Artifact:
    """A stored step output.

    Attributes:
        name: the output name.
        record: where and what it is.
        store_owner: the workspace whose store holds it.
    """

    name: str
    record: ArtifactRecord
    workspace: Workspace

    @property
    def path(self) -> Path | str:
        """The payload's location: a local path, or an fsspec URL for a remote store (a small
        value kept in its record is written out as a local ``value.json``)."""
        if self.record.uri.startswith(INLINE):
            return self.workspace.store.local_path(self.record)
        return Path(self.record.uri) if self.workspace.store.is_local else self.record.uri

    @property
    def fingerprint(self) -> str:
        """The content address."""
        return self.record.fingerprint

    @property
    def size(self) -> int:
        """Payload bytes."""
        return self.record.size

    def load(self, annotation: Any = None) -> Any:
        """Load the value (tables as pandas unless stored from pyarrow or asked for as arrow)."""
        return self.workspace.store.load(self.record, annotation)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description."""
        return {
            "path": str(self.path),
            "kind": self.record.kind,
            "format": self.record.fmt,
            "size": self.record.size,
            "fingerprint": self.record.fingerprint,
        }


@dataclass(frozen=True)
class Attempt:
    """One recorded attempt of a step: when it ran, how it ended, what it printed and logged.

    Attributes:
        number: 1 for the first try, 2 for the first retry, ...
        ok: whether it succeeded.
        started_at: unix time the call began.
        finished_at: unix time it ended.
        error: ``Type: message`` when it failed.
        logs: its stdout, stderr and logging records (capped, with a note where cut).
        log_chars: characters of output it produced (more than ``len(logs)`` when cut).
    """

    number: int
    ok: bool
    started_at: float | None
    finished_at: float | None
    error: str | None
    logs: str
    log_chars: int

    @property
    def truncated(self) -> bool:
        """Whether part of the output was left out (the cap keeps its first and last half)."""
        return self.log_chars > len(self.logs)


@dataclass(frozen=True)
class StepRun:
    """One step of a recorded run; ``logs`` and ``attempt_history`` are read when asked for."""

    name: str
    component: str
    status: Status
    reused: bool
    reused_from: str | None
    reason: str | None
    attempts: int
    started_at: float | None
    finished_at: float | None
    duration: float | None
    error: str | None
    traceback: str | None
    metrics: dict[str, Any]
    outputs: dict[str, Artifact]
    run_id: str = ""
    workspace: Workspace | None = field(default=None, repr=False, compare=False)

    @property
    def attempt_history(self) -> list[Attempt]:
        """Every recorded attempt, first to last (none for a reused or skipped step)."""
        if self.workspace is None:
            return []
        rows = self.workspace.history.get_attempts(self.run_id, self.name)
        return [
            Attempt(
                r["attempt"],
                bool(r["ok"]),
                r["started_at"],
                r["finished_at"],
                r["error"],
                r["logs"] or "",
                r["log_chars"] or 0,
            )
            for r in rows
        ]

    @property
    def logs(self) -> str:
        """What the last attempt printed and logged ("" when it never ran here)."""
        history = self.attempt_history
        return history[-1].logs if history else ""

    @property
    def batches(self) -> list[dict[str, Any]]:
        """A parallel-run step's mini-batches in order (id, items, items_failed, status,
        attempts, duration, worker, error, reused); [] for any other step."""
        if self.workspace is None:
            return []
        from .batch_reports import read_report

        run_id = self.reused_from if self.reused and self.reused_from else self.run_id
        return read_report(self.workspace.store, run_id, self.name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description."""
        return {
            "name": self.name,
            "component": self.component,
            "status": self.status.value,
            "reused": self.reused,
            "reused_from": self.reused_from,
            "reason": self.reason,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "duration": self.duration,
            "error": self.error,
            "metrics": self.metrics,
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
            "attempt_history": self._attempt_rows(),
        }

    def _attempt_rows(self) -> list[dict[str, Any]]:
        """The attempts without their logs (``runs logs`` prints those)."""
        if self.workspace is None:
            return []
        rows = self.workspace.history.get_attempts(self.run_id, self.name, logs=False)
        keep = ("attempt", "ok", "started_at", "finished_at", "error", "log_chars")
        return [{k: (bool(r[k]) if k == "ok" else r[k]) for k in keep} for r in rows]


class PipelineRun:
    """A recorded pipeline run, read from the workspace.

    Args:
        workspace: the workspace holding it.
        run_id: the run id (a unique prefix is accepted).

    Raises:
        HeadraceError: no run (or several) matches the id.
    """

    def __init__(self, workspace: Workspace, run_id: str):
        self.workspace = workspace
        ids = (
            [run_id]
            if workspace.history.get_run(run_id)
            else workspace.history.find_run_ids(run_id)
        )
        if len(ids) != 1:
            if not ids:
                why = f"no run has the id {run_id!r}"
            else:
                shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                why = f"{len(ids)} runs have ids that start with {run_id!r} ({shown})"
            raise HeadraceError(
                f"{why} in workspace {workspace.root}; give more of the id, or list runs "
                "with `headrace runs list`"
            )
        self.id = ids[0]
        self.refresh()

    def refresh(self) -> PipelineRun:
        """Re-read the run from the database."""
        row = self.workspace.history.get_run(self.id)
        if row is None:  # forgotten meanwhile (gc by another process)
            raise HeadraceError(
                f"no run has the id {self.id!r} in workspace {self.workspace.root} any more "
                "(`headrace gc` forgot it); list runs with `headrace runs list`"
            )
        self._row = row
        self._steps: dict[str, StepRun] | None = None
        return self

    @property
    def status(self) -> str:
        """Completed, Failed, Canceled, or Running while it goes."""
        return str(self._row["status"])

    @property
    def pipeline(self) -> str:
        """The pipeline name."""
        return str(self._row["pipeline"])

    @property
    def params(self) -> dict[str, Any]:
        """The parameter values the run used."""
        return dict(self._row["params"])

    @property
    def error(self) -> str | None:
        """Why the run as a whole stopped, when it did not complete normally."""
        return self._row["error"]

    @property
    def tags(self) -> dict[str, str]:
        """The labels recorded with the run (``{"schedule": NAME}`` for scheduled runs)."""
        return dict(self._row.get("tags") or {})

    @property
    def created_at(self) -> float:
        """Unix time the run was recorded."""
        return float(self._row["created_at"])

    @property
    def executor(self) -> str | None:
        """The executor it ran on (local, dask, prefect)."""
        return self._row["executor"]

    @property
    def source(self) -> str | None:
        """``FILE.py:PIPELINE`` the pipeline was defined in, when known (``runs rerun`` uses it)."""
        return self._row.get("source")

    @property
    def code(self) -> dict[str, Any] | None:
        """The code context: git ``commit``, ``dirty``, ``repo``, and the ``snapshot`` artifact of
        the pipeline's source ``files`` (None for runs recorded before headrace kept it)."""
        return self._row.get("code")

    @property
    def started_at(self) -> float | None:
        """Unix time the run started."""
        return self._row["started_at"]

    @property
    def duration(self) -> float | None:
        """Seconds from start to end."""
        end, start = self._row["finished_at"], self._row["started_at"]
        return end - start if end and start else None

    @property
    def steps(self) -> dict[str, StepRun]:
        """Step name → StepRun, in pipeline order."""
        if self._steps is None:
            self._steps = self._load_steps()
        return self._steps

    def _load_steps(self) -> dict[str, StepRun]:
        h = self.workspace.history
        metrics: dict[str, list[tuple[str, Any]]] = {}
        for m in h.get_metrics(self.id):
            metrics.setdefault(m["step"], []).append((m["name"], m["value"]))
        outputs: dict[str, dict[str, Artifact]] = {}
        for step, name, record in h.get_outputs(self.id):
            outputs.setdefault(step, {})[name] = Artifact(name, record, self.workspace)
        return {
            r["step"]: StepRun(
                name=r["step"],
                component=r["component"],
                status=Status(r["status"]),
                reused=bool(r["reused"]),
                reused_from=r["reused_from"],
                reason=r["reason"],
                attempts=r["attempts"] or 0,
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                duration=r["duration"],
                error=r["error"],
                traceback=r["traceback"],
                metrics=summarize_metrics(metrics.get(r["step"], [])),
                outputs=outputs.get(r["step"], {}),
                run_id=self.id,
                workspace=self.workspace,
            )
            for r in h.get_steps(self.id)
        }

    @property
    def outputs(self) -> dict[str, Any]:
        """The pipeline's named outputs: Artifacts (or plain values for parameter pass-throughs)."""
        out: dict[str, Any] = {}
        for name, src in self._row["outputs"].items():
            if "step" in src:
                art = self.steps[src["step"]].outputs.get(src["output"])
                if art is not None:
                    out[name] = Artifact(name, art.record, self.workspace)
            else:
                out[name] = (
                    self.params.get(src["parameter"]) if "parameter" in src else src["value"]
                )
        return out

    def raise_for_status(self) -> PipelineRun:
        """Raise StepFailedError for the first failed step; returns self when Completed."""
        for s in self.steps.values():
            if s.status is Status.FAILED:
                etype, _, msg = (s.error or "Error: ").partition(": ")
                raise StepFailedError(s.name, s.component, etype, msg, s.traceback or "")
        if self.status != Status.COMPLETED:
            raise HeadraceError(
                f"run {self.id} ended {self.status}: {self.error or ''}".rstrip(": ")
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (what ``headrace runs show --json`` prints)."""
        r = self._row
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "experiment": r["experiment"],
            "status": self.status,
            "params": self.params,
            "executor": r["executor"],
            "regenerate_outputs": bool(r["regenerate_outputs"]),
            "created_at": r["created_at"],
            "started_at": r["started_at"],
            "finished_at": r["finished_at"],
            "duration": self.duration,
            "error": self.error,
            "tags": self.tags,
            "source": self.source,
            "code": self.code,
            "steps": {k: v.to_dict() for k, v in self.steps.items()},
            "outputs": {
                k: v.to_dict() if isinstance(v, Artifact) else {"value": v}
                for k, v in self.outputs.items()
            },
        }

    def __repr__(self) -> str:
        return f"<PipelineRun {self.id} {self.pipeline} {self.status}>"


def summarize_metrics(entries: list[tuple[str, Any]]) -> dict[str, Any]:
    """Fold logged (name, value) pairs: one value stays a scalar, repeated logs become a list."""
    out: dict[str, Any] = {}
    for name, value in entries:
        if name in out:
            prev = out[name]
            out[name] = (
                _Series([*prev, value]) if isinstance(prev, _Series) else _Series([prev, value])
            )
        else:
            out[name] = value
    return {k: list(v) if isinstance(v, _Series) else v for k, v in out.items()}


class _Series(list):  # marks a list built from repeated logs (a logged list value stays a value)
    pass
