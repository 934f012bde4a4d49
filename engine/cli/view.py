"""Rich renderings for the CLI: the live step view, the final step table, run listings."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..parallel.progress import live_line
from ..status import Status
from ..store.runs import PipelineRun
from ..store.stored_values import StoredValue

STYLE: dict[str, str] = {
    Status.NOT_STARTED: "dim",
    Status.QUEUED: "cyan",
    Status.RUNNING: "yellow",
    Status.COMPLETED: "green",
    Status.FAILED: "bold red",
    Status.SKIPPED: "dim",
    Status.CANCELED: "magenta",
}


def fmt_duration(seconds: float | None) -> str:
    """``1.23s`` / ``2m03s`` / ``-``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def fmt_time(ts: float | None) -> str:
    """Local ``YYYY-mm-dd HH:MM:SS`` or ``-``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


class LiveSteps:
    """The live view of a run: a status line and the steps that are running or just changed.

    Args:
        pipeline: the pipeline name.
        steps: step names in pipeline order.
        max_rows: how many step rows to show at most (big pipelines show counts and the rest).
    """

    def __init__(self, pipeline: str, steps: list[str], max_rows: int = 20):
        self.pipeline = pipeline
        self.status = dict.fromkeys(steps, Status.NOT_STARTED.value)
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.max_rows = max_rows
        self.t0 = time.time()

    def update(self, step: str, status: Status, info: dict[str, Any]) -> None:
        """Record a step's new status (the runner's event handler)."""
        self.status[step] = status.value
        if status is Status.RUNNING:
            self.started.setdefault(step, time.time())
        elif status.is_final:
            self.ended[step] = time.time()

    def __rich__(self) -> Group:
        counts = Counter(self.status.values())
        head = Text(f"{self.pipeline}  {fmt_duration(time.time() - self.t0)}  ")
        shown = (
            Status.COMPLETED,
            Status.RUNNING,
            Status.FAILED,
            Status.SKIPPED,
            Status.NOT_STARTED,
        )
        for state in shown:
            if counts.get(state):
                head.append(f"{state} {counts[state]}  ", style=STYLE[state])
        table = Table(box=None, show_header=False, pad_edge=False)
        for name, st in self._rows():
            since = self.started.get(name)
            took = (self.ended.get(name) or time.time()) - since if since else None
            more = live_line(name) if st == Status.RUNNING else ""  # parallel-run progress
            table.add_row(name, Text(st, style=STYLE.get(st, "")), fmt_duration(took), more)
        return Group(head, table)

    def _rows(self) -> list[tuple[str, str]]:
        items = list(self.status.items())
        if len(items) <= self.max_rows:
            return items
        running = [i for i in items if i[1] == Status.RUNNING]
        recent = sorted(self.ended, key=self.ended.__getitem__)[-(self.max_rows - len(running)) :]
        keep = {n for n, _ in running} | set(recent)
        return [i for i in items if i[0] in keep][: self.max_rows]


def steps_table(run: PipelineRun) -> Table:
    """The final per-step table: status, reused, duration, attempts, metrics."""
    table = Table(title=f"run {run.id} — {run.pipeline}: {run.status}")
    for col in ("step", "status", "reused", "attempts", "duration", "why", "metrics"):
        table.add_column(col)
    for s in run.steps.values():
        metrics = ", ".join(f"{k}={metric_text(v)}" for k, v in s.metrics.items())
        table.add_row(
            s.name,
            Text(s.status.value, style=STYLE.get(s.status.value, "")),
            "yes" if s.reused else "no",
            str(s.attempts),
            fmt_duration(s.duration),
            s.reason or "",
            metrics,
        )
    return table


def metric_text(value: Any) -> str:
    """A logged metric exactly (``10910.3``, not ``1.091e+04``); a long series shows its ends."""
    if isinstance(value, list):
        if len(value) <= 8:
            return "[" + ", ".join(metric_text(v) for v in value) + "]"
        ends = [*map(metric_text, value[:3]), "…", *map(metric_text, value[-3:])]
        return f"[{', '.join(ends)}] ({len(value)} values)"
    return repr(value) if isinstance(value, float) else short_text(value)


def short_text(value: Any, limit: int = 80) -> str:
    """``value`` as text, cut to ``limit`` characters with its full length said."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, StoredValue):  # a large parameter a listing did not load
        text = str(value)
    else:
        text = json.dumps(value, default=str)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def runs_table(rows: list[dict[str, Any]]) -> Table:
    """The ``runs list`` table, newest first, with why a run did not complete."""
    table = Table(title="runs (newest first)")
    for col in ("run id", "pipeline", "status", "created", "duration", "params", "error"):
        table.add_column(col)
    for r in rows:
        took = r["finished_at"] - r["started_at"] if r["finished_at"] and r["started_at"] else None
        params = ", ".join(f"{k}={short_text(v, 30)}" for k, v in r["params"].items())
        table.add_row(
            r["id"],
            r["pipeline"],
            Text(r["status"], style=STYLE.get(r["status"], "")),
            fmt_time(r["created_at"]),
            fmt_duration(took),
            params if len(params) <= 60 else f"{params[:59]}…",
            short_text(r["error"] or r.get("step_error") or "", 60),
        )
    return table


def output_text(value: Any) -> str:
    """A pipeline output as ``runs show`` lists it: a value, or what an artifact is."""
    record = getattr(value, "record", None)
    if record is None:
        return short_text(value)
    if record.kind == "parameter":
        try:
            return short_text(value.load())
        except Exception as exc:  # a damaged or missing artifact: say so, keep listing
            return f"(cannot be read: {exc})"
    return f"{record.kind} ({record.fmt}), {record.size:,} bytes"


def attempt_lines(run: PipelineRun) -> list[str]:
    """One line per attempt of each step that was tried more than once or failed."""
    lines = []
    for s in run.steps.values():
        if s.attempts <= 1 and s.status != Status.FAILED:
            continue
        for a in s.attempt_history:
            took = (
                fmt_duration(a.finished_at - a.started_at)
                if a.finished_at and a.started_at
                else "-"
            )
            how = "Completed" if a.ok else f"Failed  {short_text(a.error or '', 100)}"
            lines.append(f"  {s.name} attempt {a.number}  {took}  {how}")
    return lines


def code_text(code: dict[str, Any] | None) -> str:
    """A run's code context in one line: commit, dirty flag, snapshot."""
    if not code:
        return "not recorded"
    parts = []
    if code.get("commit"):
        parts.append(f"git {code['commit'][:12]}" + (" (dirty)" if code.get("dirty") else ""))
    else:
        parts.append("not in a git repository")
    files = code.get("files") or []
    if code.get("snapshot"):
        parts.append(f"snapshot of {len(files)} file(s) {code['snapshot'][:12]}")
    return ", ".join(parts)


def log_tail(text: str, lines: int = 20) -> str:
    """The last ``lines`` lines of a log."""
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])
