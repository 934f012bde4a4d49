"""The ``headrace`` command: run pipelines, inspect runs, look at DAGs."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .errors import DefinitionError, HeadraceError

app = typer.Typer(
    help="headrace: typed ML pipelines with content-hash step reuse, on your machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="Inspect recorded runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

# Piped output (logs, CI, tests) gets a wide console so tables and paths are not folded.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", help="Workspace folder (default $HEADRACE_HOME or ./.headrace)."
    ),
]


def fail(message: str, code: int = 2) -> None:
    """Print a one-paragraph error and exit."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_params(items: list[str] | None) -> dict[str, str]:
    """Parse repeated ``--param k=v`` options."""
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--param {item!r} is not NAME=VALUE; write it like --param reg_rate=0.1")
        params[key.strip()] = value
    return params


def _workspace(path: Path | None) -> Any:
    from .workspace import Workspace

    ws = Workspace(path)
    ws.history.reap_dead_runs()
    return ws


def _open_run(path: Path | None, run_id: str) -> Any:
    """The PipelineRun ``run_id`` (a unique prefix) of the workspace, or a one-line error."""
    from .run import PipelineRun

    try:
        return PipelineRun(_workspace(path), run_id)
    except HeadraceError as exc:
        fail(str(exc))


@app.command()
def run(
    target: Annotated[str, typer.Argument(help="FILE.py[:PIPELINE]")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")
    ] = None,
    regenerate_outputs: Annotated[
        bool, typer.Option("--regenerate-outputs", help="Run every step.")
    ] = False,
    executor: Annotated[
        str, typer.Option(help="local | local-processes | dask | prefect")
    ] = "local",
    dask_address: Annotated[
        str | None,
        typer.Option(help="Dask scheduler for --executor dask (default: a LocalCluster)."),
    ] = None,
    task_runner: Annotated[
        str, typer.Option(help="Prefect task runner for --executor prefect: threads | dask.")
    ] = "threads",
    max_workers: Annotated[int | None, typer.Option(help="Steps running at once.")] = None,
    continue_on_step_failure: Annotated[bool, typer.Option("--continue-on-step-failure")] = False,
    experiment: Annotated[str | None, typer.Option(help="Label to group runs by.")] = None,
    workspace: WorkspaceOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live view.")] = False,
    run_id: Annotated[str | None, typer.Option(hidden=True, help="Use this run id.")] = None,
) -> None:
    """Run a pipeline; exit 0 only when the run Completed."""
    from rich.live import Live

    from .cli_view import LiveSteps, steps_table
    from .executors import make_executor
    from .loader import load_pipeline
    from .run import PipelineRun

    params = parse_params(param)
    try:
        pipe = load_pipeline(target)
        defn = pipe.definition
        defn.bind_params(params)
        ws = _workspace(workspace)
        options: dict[str, Any] = {"dask_address": dask_address}
        if executor == "prefect":
            options.update(task_runner=task_runner, workspace=ws.root)
        chosen = make_executor(executor, max_workers, **options)
        view = LiveSteps(defn.name, list(defn.steps))
        show = not quiet and err.is_terminal
        live = (
            Live(view, console=err, refresh_per_second=8, transient=True) if show else nullcontext()
        )
        with live:
            result: PipelineRun = pipe.submit(
                params,
                regenerate_outputs=regenerate_outputs,
                executor=chosen,
                max_workers=max_workers,
                continue_on_step_failure=continue_on_step_failure,
                experiment=experiment,
                workspace=ws,
                on_event=view.update,
                run_id=run_id,
            )
    except KeyboardInterrupt:
        err.print("[magenta]run canceled (Ctrl-C); recorded as Canceled[/]")
        raise typer.Exit(130) from None
    except HeadraceError as exc:
        fail(str(exc))
    out.print(steps_table(result))
    _print_failures(result)
    out.print(f"run id: {result.id}  workspace: {ws.root}", highlight=False)
    raise typer.Exit(0 if result.status == "Completed" else 1)


def _print_failures(result: Any) -> None:
    for s in result.steps.values():
        if s.status.value == "Failed":
            err.print(f"[bold red]step {s.name!r} failed[/] (component {s.component}):")
            err.print(s.traceback or s.error, highlight=False, markup=False)


@runs_app.command("list")
def runs_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option(help="How many runs.")] = 50,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """List runs, newest first."""
    from .cli_view import runs_table

    try:
        rows = _workspace(workspace).history.list_runs(limit, pipeline)
    except HeadraceError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        out.print(runs_table(rows))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show a run: status, parameters, and each step's status, reuse, duration, metrics, outputs."""
    from .cli_view import steps_table

    result = _open_run(workspace, run_id)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    out.print(f"pipeline {result.pipeline}  params {json.dumps(result.params, default=str)}")
    out.print(steps_table(result))
    for s in result.steps.values():
        for name, art in s.outputs.items():
            out.print(f"  {s.name}.{name}: {art.path}", highlight=False)
    _print_failures(result)


@runs_app.command("explain")
def runs_explain(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    step: Annotated[str | None, typer.Argument(help="Only this step.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Say why each step ran or was reused (code, parameter, input or upstream changes)."""

    result = _open_run(workspace, run_id)
    steps = result.steps
    if step is not None and step not in steps:
        from .errors import did_you_mean

        fail(
            f"run {result.id} has no step {step!r}.{did_you_mean(step, steps)} Steps: {', '.join(steps)}"
        )
    for s in steps.values():
        if step is None or s.name == step:
            verdict = "reused" if s.reused else s.status.value.lower()
            out.print(f"{s.name}: {verdict} — {s.reason or '-'}", highlight=False)


@app.command()
def gc(
    keep_last: Annotated[int | None, typer.Option(min=0, help="Keep the N newest runs.")] = None,
    older_than: Annotated[
        str | None, typer.Option(help="Forget runs older than this (30d, 12h).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete artifacts no kept run or cache entry refers to, and report the bytes freed."""
    from .gc import collect, parse_age

    try:
        age = parse_age(older_than) if older_than else None
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    try:
        report = collect(_workspace(workspace), keep_last, age, dry_run)
    except HeadraceError as exc:
        fail(str(exc))
    verb = "would free" if dry_run else "freed"
    out.print(
        f"{len(report.runs)} runs forgotten, {len(report.artifacts)} artifacts and "
        f"{len(report.staging)} stale staging entries deleted; {verb} {report.bytes_freed:,} bytes"
        + (" (dry run: nothing changed)" if dry_run else ""),
        highlight=False,
    )


@app.command()
def dag(
    target: Annotated[str, typer.Argument(help="FILE.py[:PIPELINE]")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="text | mermaid | dot | png")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File for png (default PIPELINE.png).")
    ] = None,
) -> None:
    """Show a pipeline's DAG."""
    from .graph import render_dot, render_mermaid, render_png, render_text
    from .loader import load_pipeline

    renderers = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}
    if format not in (*renderers, "png"):
        fail(f"--format {format!r} is not one of text, mermaid, dot, png")
    try:
        defn = load_pipeline(target).definition
    except HeadraceError as exc:
        fail(str(exc))
    if format == "png":
        path = render_png(defn, output or Path(f"{defn.name}.png"))
        out.print(f"wrote {path}")
    else:
        print(renderers[format](defn))


from .cli_ui import ui  # noqa: E402

app.command("ui")(ui)


def _add_plugins() -> None:
    """Add commands other headrace packages register under the ``headrace.cli`` entry points.

    The scheduler contributes ``schedule`` and ``daemon`` this way, so the engine never
    imports it (DESIGN §1).
    """
    from importlib.metadata import entry_points

    for ep in entry_points(group="headrace.cli"):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            err.print(f"[yellow]warning:[/] command {ep.name!r} unavailable: {exc}")
            continue
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=ep.name)
        else:
            app.command(ep.name)(obj)


def main() -> None:
    """Console-script entry point."""
    _add_plugins()
    try:
        app()
    except DefinitionError as exc:  # pragma: no cover - raised outside a command's handler
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
