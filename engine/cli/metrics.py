"""``headrace metrics PIPELINE --metric NAME [--run RUN] [--png FILE]``: a metric over runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import did_you_mean
from .console import WorkspaceOpt, fail, open_run, open_workspace, out


def metrics(
    pipeline: Annotated[str, typer.Argument(help="The pipeline's name (as runs list shows it).")],
    metric: Annotated[str, typer.Option("--metric", "-m", help="NAME or STEP.NAME.")],
    run: Annotated[
        str | None, typer.Option("--run", help="Plot the series this run logged instead.")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Also draw it into this PNG.")] = None,
    limit: Annotated[int, typer.Option(help="The newest runs to include.")] = 50,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print (and plot) a metric over a pipeline's runs, or the series one run logged."""
    ws = open_workspace(workspace)
    run_id = open_run(workspace, run).id if run is not None else None
    rows = _values(ws.history, pipeline, metric, run_id)
    if not rows:
        known = ws.history.metric_names(pipeline)
        if not known:
            fail(
                f"pipeline {pipeline!r} has no runs with metrics in {ws.root}; see headrace runs list"
            )
        fail(
            f"no run of {pipeline!r} logged --metric {metric!r}.{did_you_mean(metric, known)} "
            f"Logged: {', '.join(known)}"
        )
    points = series(rows, within=run_id is not None, limit=limit)
    labels = {} if run_id else varying_params(ws.history, points)
    out.print(points_table(points, metric, run_id, labels))
    if png is not None:
        counts = Counter((r["step"], r["run_id"]) for r in rows)
        last = run_id is None and any(n > 1 for n in counts.values())
        draw(points, metric, pipeline, run_id, png, labels, last)
        out.print(f"wrote {png}", highlight=False)


def varying_params(history: Any, points: dict[str, list[tuple[Any, Any]]]) -> dict[str, str]:
    """Run id → ``k=v`` of the parameters that differ between the plotted runs."""
    from .view import short_text

    ids = list(dict.fromkeys(rid for pts in points.values() for rid, _ in pts))
    params = {rid: (history.get_run(rid) or {}).get("params", {}) for rid in ids}
    keys = list(dict.fromkeys(k for p in params.values() for k in p))
    differ = [k for k in keys if len({repr(p.get(k)) for p in params.values()}) > 1]
    return {
        rid: ", ".join(f"{k}={short_text(p.get(k), 20)}" for k in differ)
        for rid, p in params.items()
    }


def _values(history: Any, pipeline: str, metric: str, run_id: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = history.metric_values(pipeline, metric, run_id=run_id)
    if not rows and "." in metric:  # STEP.NAME
        step, _, name = metric.partition(".")
        rows = history.metric_values(pipeline, name, step=step, run_id=run_id)
    return rows


def series(
    rows: list[dict[str, Any]], within: bool, limit: int
) -> dict[str, list[tuple[Any, Any]]]:
    """Per step: (x, value) points; x is the run id over runs (a series' last value), or the
    logging index within one run."""
    by_step: dict[str, list[tuple[Any, Any]]] = {}
    if within:
        for r in rows:
            by_step.setdefault(r["step"], []).append((r["seq"], r["value"]))
        return by_step
    last: dict[tuple[str, str], Any] = {}
    for r in rows:  # ordered by run then seq: the last logged value of each run wins
        last[(r["step"], r["run_id"])] = r["value"]
    for (step, rid), value in last.items():
        by_step.setdefault(step, []).append((rid, value))
    return {s: pts[-limit:] for s, pts in by_step.items()}


def points_table(
    points: dict[str, list[tuple[Any, Any]]],
    metric: str,
    run_id: str | None,
    labels: dict[str, str],
) -> Table:
    """The printed form: one row per point, values exact, with the parameters that differ."""
    from .view import metric_text

    table = Table(title=f"{metric} " + (f"logged in run {run_id}" if run_id else "over runs"))
    table.add_column("step")
    table.add_column("index" if run_id else "run id")
    varied = any(labels.values())
    if varied:
        table.add_column("parameters that differ")
    table.add_column(metric)
    for step, pts in points.items():
        for x, value in pts:
            extra = [labels.get(x, "")] if varied else []
            table.add_row(step, str(x), *extra, metric_text(value))
    return table


def draw(
    points: dict[str, list[tuple[Any, Any]]],
    metric: str,
    pipeline: str,
    run_id: str | None,
    png: Path,
    labels: dict[str, str] | None = None,
    last: bool = False,
) -> None:
    """A line per step: the metric over runs (x: run ids, oldest first) or over logging order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    for step, pts in points.items():
        numeric = [(x, v) for x, v in pts if isinstance(v, int | float) and not isinstance(v, bool)]
        if not numeric:
            continue
        xs = list(range(len(numeric))) if run_id is None else [x for x, _ in numeric]
        ax.plot(xs, [v for _, v in numeric], marker="o", label=step)
        if run_id is None:
            ticks = [_tick(str(x), (labels or {}).get(x, "")) for x, _ in numeric]
            ax.set_xticks(xs, ticks, rotation=35, ha="right", fontsize=7)
    ax.set_title(f"{pipeline}: {metric}" + (f" in run {run_id}" if run_id else " over runs"))
    ax.set_xlabel("logged value (index)" if run_id else "run (oldest first)")
    ax.set_ylabel(f"{metric} (the last value each run logged)" if last else metric)
    if run_id is not None:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if len(points) > 1:
        ax.legend(title="step")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, format="png")  # to ``png`` itself, whatever its suffix
    plt.close(fig)


def _tick(run_id: str, label: str) -> str:
    return f"{run_id}\n{label}" if label else run_id
