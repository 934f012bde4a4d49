"""The ``headrace schedule ...`` and ``headrace daemon`` commands (registered by entry points)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from headrace.engine.cli.console import (
    ParamOpt,
    WorkspaceOpt,
    canceled,
    fail,
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
    settle: Annotated[str, typer.Option(help="How long a file must stay unchanged.")] = "0.3s",
    data_path_param: Annotated[
        str | None, typer.Option(help="Parameter getting the changed files.")
    ] = None,
    param: ParamOpt = None,
    catch_up: Annotated[str, typer.Option(help="After downtime: none | latest | all.")] = "latest",
    overlap: Annotated[
        str, typer.Option(help="Previous run still going: skip | queue | allow.")
    ] = "skip",
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a schedule: exactly one of --cron, --every or --on-change."""
    from headrace.scheduler.schedule import Schedule, open_workspace
    from headrace.scheduler.store import SchedulerStore

    params = parse_params(param)
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
            workspace=workspace,
        )
        row = SchedulerStore(open_workspace(workspace).history).schedule(made.name)
    nxt = _next_fire(made, row.cursor_time if row else None)
    when = f"; next fire {nxt.isoformat(' ', 'seconds')}" if nxt else ""
    out.print(f"created schedule {made.name!r}: {made.describe()}{when}", highlight=False)


def _next_fire(s: Any, cursor_time: float | None) -> datetime | None:
    """The next fire of an enabled time schedule: one due now (on time), else the next one."""
    from headrace.scheduler.planner import GRACE

    if not s.enabled or s.timing is None:
        return None
    now = datetime.now(UTC)
    due: datetime = s.next_fire(datetime.fromtimestamp(cursor_time or s.created_at, UTC))
    return due if due >= now - GRACE else s.next_fire(now)


def _listing(workspace: Path | None) -> list[dict[str, Any]]:
    from headrace.scheduler.schedule import Schedule, open_workspace
    from headrace.scheduler.store import SchedulerStore

    ws = open_workspace(workspace)
    store = SchedulerStore(ws.history)
    rows = []
    faults = store.faults()
    for row in store.schedules():
        s = Schedule.from_row(row)
        fault = faults.get(s.name)
        nxt = _next_fire(s, row.cursor_time)
        last = store.last_firing(s.name)
        status = ws.history.run_status(last.run_id) if last else None
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
                "last_run": last.run_id if last else None,
                "last_status": status or (STARTING if last else None),
                "error": fault.error if fault else None,
                "failures": fault.failures if fault else 0,
                "retry_at": (
                    datetime.fromtimestamp(fault.retry_at, UTC).isoformat() if fault else None
                ),
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
        print(json.dumps(rows, indent=2))
        return
    table = Table("name", "when", "pipeline", "enabled", "next fire", "last run", "status", "error")
    for r in rows:
        error = ""
        if r["error"]:
            error = f"{r['error']} (failed {r['failures']}×, retry {(r['retry_at'] or '')[:19]})"
        table.add_row(
            r["name"],
            r["when"],
            Path(r["pipeline"]).name,
            "yes" if r["enabled"] else "no",
            (r["next_fire"] or "-")[:19],
            r["last_run"] or "-",
            r["last_status"] or "-",
            Text(error, style="red"),
        )
    out.print(table)


def _toggle(
    name: str, workspace: Path | None, action: Callable[[Any, Any], None], done: str
) -> None:
    from headrace.scheduler.schedule import Schedule, open_workspace

    with user_errors():
        ws = open_workspace(workspace)
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
    from headrace.scheduler.schedule import Schedule, open_workspace

    params = parse_params(param)
    try:
        with user_errors():
            ws = open_workspace(workspace)
            run = Schedule.get(name, ws).trigger_now(params, ws)
    except KeyboardInterrupt:
        canceled()
    from headrace.engine.cli.view import steps_table

    out.print(steps_table(run))
    print_failures(run)
    out.print(f"run {run.id}: {run.status}", highlight=False)
    raise typer.Exit(0 if run.status == Status.COMPLETED else 1)


def daemon(
    workspace: WorkspaceOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, wait, exit.")] = False,
    tick: Annotated[float, typer.Option(help="Seconds between looks at the schedules.")] = 1.0,
    stop_grace: Annotated[
        float, typer.Option(help="Seconds runs get to cancel on SIGTERM.")
    ] = 30.0,
) -> None:
    """Fire this workspace's schedules and triggers until SIGTERM (one daemon per workspace)."""
    from headrace.scheduler.daemon import Daemon
    from headrace.scheduler.lock import DaemonRunningError
    from headrace.scheduler.schedule import open_workspace

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with user_errors():
        runner = Daemon(open_workspace(workspace), tick=tick, stop_grace=stop_grace)
        try:
            runner.run_once() if once else runner.serve()
        except DaemonRunningError as exc:
            fail(str(exc), code=1)
