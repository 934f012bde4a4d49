"""Read-only views of recorded runs: PipelineRun, StepRun and Artifact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HeadraceError, StepFailedError
from ..status import Status
from .artifacts import ArtifactRecord
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
        """The payload's location: a local path, or an fsspec URL for a remote store."""
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
class StepRun:
    """One step of a recorded run."""

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
        }


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
            why = "no run has" if not ids else f"{len(ids)} runs have"
            raise HeadraceError(
                f"{why} the id {run_id!r} in workspace {workspace.root}; "
                "list runs with `headrace runs list`"
            )
        self.id = ids[0]
        self.refresh()

    def refresh(self) -> PipelineRun:
        """Re-read the run from the database."""
        row = self.workspace.history.get_run(self.id)
        assert row is not None
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
