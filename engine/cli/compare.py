"""``headrace runs compare RUN RUN ...``: parameters and metrics side by side, differences marked."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..store.runs import PipelineRun
from .console import WorkspaceOpt, fail, open_run, out
from .runs import runs_app

MISSING = "-"


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (unique prefixes).")],
    only_diff: Annotated[
        bool, typer.Option("--only-diff", help="Only rows whose values differ.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show runs' parameters and metrics side by side; rows that differ are marked with *."""
    if len(run_ids) < 2:
        fail("runs compare needs two or more run ids, e.g. headrace runs compare RUN1 RUN2")
    runs = [open_run(workspace, r) for r in run_ids]
    out.print(compare_table(runs, only_diff))


def rows_of(run: PipelineRun) -> dict[str, Any]:
    """``param NAME`` and ``STEP.METRIC`` → value (a series as its list) for one run."""
    from .view import metric_text

    rows: dict[str, Any] = {"pipeline": run.pipeline, "status": run.status}
    rows.update({f"param {k}": v for k, v in run.params.items()})
    for s in run.steps.values():
        for name, value in s.metrics.items():
            rows[f"{s.name}.{name}"] = metric_text(value)
    return rows


def compare_table(runs: list[PipelineRun], only_diff: bool = False) -> Table:
    """One column per run, one row per parameter or metric; differing rows marked ``*``."""
    from .view import short_text

    values = [rows_of(r) for r in runs]
    names = list(dict.fromkeys(k for v in values for k in v))
    table = Table(title=f"{len(runs)} runs compared (* = differs)")
    table.add_column("")
    table.add_column("")
    for r in runs:
        table.add_column(r.id)
    for name in names:
        cells = [short_text(v[name], 60) if name in v else MISSING for v in values]
        differs = len(set(cells)) > 1
        if only_diff and not differs:
            continue
        style = "bold yellow" if differs else ""
        table.add_row(
            "*" if differs else "", Text(name, style=style), *(Text(c, style=style) for c in cells)
        )
    return table
