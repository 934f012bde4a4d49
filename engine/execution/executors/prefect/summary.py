"""The markdown summary of a recorded run that the Prefect mirror puts on its flow run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ....store.workspace import Workspace


def run_summary(ws: Workspace, run_id: str) -> str:
    """The markdown summary of a recorded run: steps, metrics, outputs, reused from."""
    from ....store.runs import Artifact, PipelineRun

    run = PipelineRun(ws, run_id)
    lines = [f"# {run.pipeline} — run `{run_id}`: **{run.status}**", ""]
    if run.error:
        lines += [f"> {run.error}", ""]
    if run.params:
        lines += ["| parameter | value |", "|---|---|"]
        lines += [f"| {k} | `{_cell(v)}` |" for k, v in run.params.items()] + [""]
    lines += ["| step | state | attempts | duration | reused from |", "|---|---|---|---|---|"]
    metrics = []
    for s in run.steps.values():
        took = "" if s.duration is None else f"{s.duration:.2f} s"
        lines.append(
            f"| {s.name} | {s.status.value} | {s.attempts} | {took} | {s.reused_from or ''} |"
        )
        metrics += [(s.name, k, v) for k, v in s.metrics.items()]
    if metrics:
        lines += ["", "## Metrics", "", "| step | metric | value |", "|---|---|---|"]
        lines += [f"| {s} | {k} | `{_cell(v)}` |" for s, k, v in metrics]
    outputs = run.outputs
    if outputs:
        lines += ["", "## Outputs", "", "| output | kind | value |", "|---|---|---|"]
        for name, out in outputs.items():
            if not isinstance(out, Artifact):
                lines.append(f"| {name} | value | `{_cell(out)}` |")
            elif out.record.kind == "parameter":
                lines.append(f"| {name} | parameter | `{_cell(out.load())}` |")
            else:
                lines.append(f"| {name} | {out.record.kind} | `{_cell(out.path)}` |")
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """``value`` as JSON can carry it (paths and other objects as their text)."""
    return json.loads(json.dumps(value, default=str))


def _cell(value: Any) -> str:
    """A value for a markdown table cell, on one line and cut to 200 characters."""
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 200 else text[:199] + "…"
