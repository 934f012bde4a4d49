"""The ``headrace schedule ...`` and ``headrace daemon`` commands (registered by entry points)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from headrace.engine.cli.as_json import dumps
from headrace.engine.cli.console import (
    ParamOpt,
    WorkspaceOpt,
    canceled,
    err,
    fail,
    open_workspace,
    out,
    parse_params,
    print_failures,
)
from headrace.engine.errors import HeadraceError
from headrace.engine.status import Status

schedule_app = typer.Typer(
    help="Create and manage schedules and data-change triggers (fired by `headrace daemon`).",
    no_args_is_help=True,
)

#: ``schedule list``'s status of a firing whose run is not recorded yet (about to start).
STARTING = "Starting"


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn headrace errors (schedule errors included) into a one-paragraph message and exit 2."""
    try:
        yield
    except HeadraceError as exc:
        fail(str(exc))


@schedule_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Schedule name.")],
    pipeline: Annotated[str, typer.Option("--pipeline", help="FILE.py[:PIPELINE]")],
    cron: Annotated[str | None, typer.Option(help="Cron expression, e.g. '0 2 * * *'.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone of --cron/--every.")] = "UTC",
    every: Annotated[str | None, typer.Option(help="Recurrence: 30m, 2h, 1d, 1w, 1mo.")] = None,
    at: Annotated[str | None, typer.Option(help="HH:MM[,HH:MM] with --every.")] = None,
    week_days: Annotated[str | None, typer.Option(help="Mon,Fri with --every 1w.")] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="First run and anchor of --every: ISO 8601 such as 2026-12-01T09:30 (in "
            "--timezone) or with an offset, or 'now' (at once). With --cron: not before it."
        ),
    ] = None,
    on_change: Annotated[str | None, typer.Option(help="Folder or fsspec URL to watch.")] = None,
    glob: Annotated[str, typer.Option(help="Files that count, e.g. '*.csv'.")] = "*",
    poll: Annotated[str, typer.Option(help="Polling interval, e.g. 30s.")] = "30s",
    settle: Annotated[
        str | None,
        typer.Option(
            help="How long a file must stay unchanged before it counts (default 0.3s for a "
            "local folder, whose files also wait for their writer to close them; 3s for a URL)."
        ),
    ] = None,
    data_path_param: Annotated[
        str | None, typer.Option(help="Parameter getting the changed files.")
    ] = None,
    param: ParamOpt = None,
    catch_up: Annotated[str, typer.Option(help="After downtime: none | latest | all.")] = "latest",
    overlap: Annotated[
        str, typer.Option(help="Previous run still going: skip | queue | allow.")
    ] = "skip",
    executor: Annotated[
        str,
        typer.Option(help="What its runs execute on: local | local-processes | dask | prefect."),
    ] = "local",
    dask_address: Annotated[
        str | None,
        typer.Option(help="Dask scheduler for --executor dask (default: a LocalCluster per run)."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a schedule: exactly one of --cron, --every or --on-change.

    Relative paths (the pipeline file, the watched folder, Path parameters) are resolved
    now, against the current folder, so the daemon finds them wherever it was started.
    """
    from headrace.engine.cli.console import check_dask_address
    from headrace.scheduler.lock import read_pid_file
    from headrace.scheduler.schedule import Schedule
    from headrace.scheduler.store import SchedulerStore

    params = parse_params(param)
    ws = open_workspace(workspace, create=True)
    with user_errors():
        made = Schedule.create(
            name,
            pipeline,
            cron=cron,
            timezone=timezone,
            every=every,
            at=at,
            week_days=week_days,
            start_time=start,
            on_change=on_change,
            glob=glob,
            poll=poll,
            settle=settle,
            data_path_param=data_path_param,
            params=params,
            catch_up=catch_up,
            overlap=overlap,
            executor=executor,
            dask_address=dask_address,
            workspace=ws,
        )
        row = SchedulerStore(ws.history).schedule(made.name)
    nxt = _next_fire(made, row.cursor_time if row else None)
    when = f"; next fire {zoned(nxt, made)}" if nxt else ""
    out.print(f"created schedule {made.name!r}: {made.describe()}{when}", highlight=False)
    if dask_address:
        try:
            check_dask_address(dask_address)
        except HeadraceError as exc:
            err.print(f"[yellow]warning:[/] {escape(str(exc))}", highlight=False)
    daemon = read_pid_file(ws.root)
    if daemon is None or not daemon.running:
        err.print(
            f"[yellow]warning:[/] no daemon runs for workspace {escape(str(ws.root))}, so nothing fires "
            "this schedule yet; start one: headrace daemon --detach",
            highlight=False,
        )


def _next_fire(s: Any, cursor_time: float | None) -> datetime | None:
    """The next fire of an enabled time schedule: one due now (on time), else the next one."""
    from headrace.scheduler.planner import GRACE

    if not s.enabled or s.timing is None:
        return None
    now = datetime.now(UTC)
    due: datetime = s.next_fire(datetime.fromtimestamp(cursor_time or s.created_at, UTC))
    return due if due >= now - GRACE else s.next_fire(now)


def zoned(t: datetime | None, s: Any = None) -> str:
    """``t`` as wall time in the schedule's zone (else this machine's), saying the zone."""
    if t is None:
        return "-"
    from zoneinfo import ZoneInfo

    name = getattr(getattr(s, "timing", None), "time_zone", None)
    local = t.astimezone(ZoneInfo(name)) if name else t.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def _listing(workspace: Path | None) -> list[dict[str, Any]]:
    from headrace.scheduler.schedule import Schedule
    from headrace.scheduler.store import SchedulerStore

    ws = open_workspace(workspace)
    store = SchedulerStore(ws.history)
    rows = []
    faults = store.faults()
    for row in store.schedules():
        s = Schedule.from_row(row)
        fault = faults.get(s.name)
        try:
            nxt = _next_fire(s, row.cursor_time)
        except (OverflowError, ValueError):  # saved before create checked it: shown, not fatal
            nxt = None
        last = store.last_firing(s.name)
        record = ws.history.get_run(last.run_id) if last else None
        status = record["status"] if record else None
        run_error = record["error"] if record and status == Status.FAILED else None
        rows.append(
            {
                "name": s.name,
                "kind": s.kind,
                "when": s.describe(),
                "pipeline": s.pipeline,
                "params": s.params,
                "catch_up": s.catch_up,
                "overlap": s.overlap,
                "enabled": s.enabled,
                "next_fire": nxt.isoformat() if nxt else None,
                "next_fire_local": zoned(nxt, s) if nxt else None,
                "last_run": last.run_id if last else None,
                "last_status": status or (STARTING if last else None),
                "error": fault.error if fault else run_error,
                "failures": fault.failures if fault else 0,
                "retry_at": (
                    datetime.fromtimestamp(fault.retry_at, UTC).isoformat() if fault else None
                ),
                "executor": s.executor,
            }
        )
    return rows


@schedule_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List schedules with their next fire time and last run."""
    with user_errors():
        rows = _listing(workspace)
    if as_json:
        print(dumps(rows))
        return
    table = Table("name", "when", "pipeline", "enabled", "next fire", "last run", "status", "error")
    for r in rows:
        error = r["error"] or ""
        if r["error"] and r["failures"]:
            retry = zoned(datetime.fromisoformat(r["retry_at"])) if r["retry_at"] else "-"
            error += f" (failed {r['failures']}×, next try {retry})"
        table.add_row(
            r["name"],
            r["when"],
            Path(r["pipeline"]).name,
            "yes" if r["enabled"] else "no",
            r["next_fire_local"] or "-",
            r["last_run"] or "-",
            r["last_status"] or "-",
            Text(error, style="red"),
        )
    print_wide(table)


def print_wide(table: Table) -> None:
    """Print a table on the terminal's width, or unfolded when output is piped."""
    if out.is_terminal:
        out.print(table)
        return
    from rich.console import Console

    width = max(80, Console(width=10_000).measure(table).maximum)
    Console(width=width, file=out.file, color_system=None).print(table)


def _toggle(
    name: str, workspace: Path | None, action: Callable[[Any, Any], None], done: str
) -> None:
    from headrace.scheduler.schedule import Schedule

    ws = open_workspace(workspace)
    with user_errors():
        action(Schedule.get(name, ws), ws)
    out.print(f"schedule {name!r} {done}", highlight=False)


@schedule_app.command("enable")
def enable(name: Annotated[str, typer.Argument()], workspace: WorkspaceOpt = None) -> None:
    """Enable a schedule (missed time while disabled is not caught up)."""
    _toggle(name, workspace, lambda s, ws: s.set_enabled(True, ws), "enabled")


@schedule_app.command("disable")
def disable(name: Annotated[str, typer.Argument()], workspace: WorkspaceOpt = None) -> None:
    """Disable a schedule; a running daemon stops firing it at its next tick."""
    _toggle(name, workspace, lambda s, ws: s.set_enabled(False, ws), "disabled")


@schedule_app.command("delete")
def delete(name: Annotated[str, typer.Argument()], workspace: WorkspaceOpt = None) -> None:
    """Delete a schedule (its runs stay in the history)."""
    _toggle(name, workspace, lambda s, ws: s.delete(ws), "deleted")


@schedule_app.command("trigger")
def trigger(
    name: Annotated[str, typer.Argument()], param: ParamOpt = None, workspace: WorkspaceOpt = None
) -> None:
    """Run the schedule's pipeline now (parameters overridden by --param); exit 0 iff Completed."""
    from headrace.scheduler.schedule import Schedule

    params = parse_params(param)
    ws = open_workspace(workspace)
    try:
        with user_errors():
            run = Schedule.get(name, ws).trigger_now(params, ws)
    except KeyboardInterrupt:
        canceled()
    from headrace.engine.cli.view import steps_table

    out.print(steps_table(run))
    print_failures(run)
    out.print(f"run {run.id}: {run.status}", highlight=False)
    raise typer.Exit(0 if run.status == Status.COMPLETED else 1)


from headrace.scheduler.daemon_cli import daemon_app as daemon  # noqa: E402  (entry point)

__all__ = ["daemon", "schedule_app"]
