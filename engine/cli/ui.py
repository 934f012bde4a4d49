"""``headrace ui``: start (or stop) the workspace's local Prefect server and print the UI's URL."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import WorkspaceOpt, err, fail, find_workspace, out


def ui(
    port: Annotated[int, typer.Option(help="Loopback port for the Prefect server and UI.")] = 4200,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the workspace's server.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Start the Prefect UI for this workspace (in the background) and print its address.

    The server listens on 127.0.0.1 only and keeps its SQLite database and PREFECT_HOME in
    the workspace; later `headrace run --executor prefect` runs report to it. A Prefect
    server of your own is used instead when PREFECT_API_URL is set.
    """
    from ..execution.executors.prefect.server import PrefectServerError, recorded, start
    from ..execution.executors.prefect.server import stop as stop_server

    root = find_workspace(workspace)[0]
    if stop:
        stopped = stop_server(root)
        out.print("stopped the Prefect server" if stopped else "no Prefect server was running")
        return
    running = recorded(root)
    if running is not None and running.port != port:
        err.print(f"the workspace's Prefect server already runs on port {running.port}")
    try:
        info = running or start(root, port=port)
    except PrefectServerError as exc:
        fail(str(exc))
    out.print(f"Prefect UI: {info.ui_url}", highlight=False)
    out.print(
        f"API: {info.url}  (database and logs in {info.home}; stop with `headrace ui --stop`)",
        highlight=False,
    )
