"""``headrace daemon [--detach]``, ``headrace daemon status`` and ``headrace daemon stop``."""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from headrace.engine.cli.console import WorkspaceOpt, err, fail, open_workspace, out
from headrace.engine.errors import HeadraceError

daemon_app = typer.Typer(
    help="Fire this workspace's schedules and triggers (one daemon per workspace).",
    invoke_without_command=True,
)


@daemon_app.callback()
def daemon(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, wait, exit.")] = False,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", help="Run in the background; log to WORKSPACE/daemon.log (pid: daemon.pid)."
        ),
    ] = False,
    tick: Annotated[float, typer.Option(help="Seconds between looks at the schedules.")] = 1.0,
    stop_grace: Annotated[
        float, typer.Option(help="Seconds runs get to cancel on SIGTERM.")
    ] = 30.0,
    log_file: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Fire this workspace's schedules and triggers until SIGTERM (one daemon per workspace).

    With --detach it runs in the background: its pid is in WORKSPACE/daemon.pid and its log
    in WORKSPACE/daemon.log; `headrace daemon status` and `headrace daemon stop` find it.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not (math.isfinite(tick) and tick > 0):
        fail(f"--tick: {tick} is not a number of seconds above 0 (the default is 1)")
    if not (math.isfinite(stop_grace) and stop_grace >= 0):
        fail(f"--stop-grace: {stop_grace} is not a number of seconds, 0 or more (default 30)")
    from headrace.scheduler.daemon import Daemon
    from headrace.scheduler.lock import DaemonRunningError

    ws = open_workspace(workspace, create=True)
    if detach:
        _detach(ws.root, tick, stop_grace)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for name in ("httpx", "httpcore"):  # the Prefect mirror's requests, one line each
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        runner = Daemon(ws, tick=tick, stop_grace=stop_grace)
        runner.run_once() if once else runner.serve(log_file)
    except DaemonRunningError as exc:
        fail(str(exc), code=1)
    except HeadraceError as exc:
        fail(str(exc))


def _detach(root: Path, tick: float, stop_grace: float) -> None:
    """Start the daemon as a background process and wait until it holds the workspace."""
    from headrace.scheduler.lock import LOG_FILE, PID_FILE, read_pid_file

    running = read_pid_file(root)
    if running is not None and running.running:
        fail(
            f"a daemon already runs for workspace {root} (pid {running.pid}); see "
            "`headrace daemon status`, or stop it with `headrace daemon stop`",
            code=1,
        )
    log = root / LOG_FILE
    cmd = [sys.executable, "-m", "headrace.engine.cli", "daemon", "-w", str(root)]
    cmd += ["--tick", str(tick), "--stop-grace", str(stop_grace), "--log-file", str(log)]
    with open(log, "ab") as sink:
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=root,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = read_pid_file(root)
        if info is not None and info.pid == child.pid and info.running:
            out.print(
                f"daemon started in the background (pid {child.pid}) for workspace {root}\n"
                f"  log:      {log}\n  pid file: {root / PID_FILE}\n"
                "  stop it with `headrace daemon stop`",
                highlight=False,
                markup=False,
            )
            return
        if child.poll() is not None:
            fail(f"the daemon exited at once (exit {child.returncode}):\n{_tail(log)}", code=1)
        time.sleep(0.1)
    fail(f"the daemon (pid {child.pid}) did not start within 30 s; see its log {log}", code=1)


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours or days)
    return " ".join([*parts, f"{minutes}m", f"{secs}s"])


@daemon_app.command("status")
def status(workspace: WorkspaceOpt = None) -> None:
    """Say whether a daemon runs for this workspace, its pid and uptime; exit 0 only if it runs."""
    from headrace.scheduler.lock import read_pid_file

    root = open_workspace(workspace).root
    info = read_pid_file(root)
    if info is None or not info.running:
        gone = f" (the last one, pid {info.pid}, is gone)" if info is not None else ""
        out.print(f"no daemon runs for workspace {root}{gone}", highlight=False, markup=False)
        raise typer.Exit(1)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(info.started_at))
    out.print(
        f"daemon running: pid {info.pid}, up {_uptime(info.uptime)} (since {started}), "
        f"workspace {root}" + (f", log {info.log}" if info.log else ""),
        highlight=False,
        markup=False,
    )


@daemon_app.command("stop")
def stop(
    workspace: WorkspaceOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for it to exit.")] = 60.0,
) -> None:
    """Stop the workspace's daemon (SIGTERM: in-flight runs are canceled and fired again later)."""
    from headrace.scheduler.lock import read_pid_file

    root = open_workspace(workspace).root
    info = read_pid_file(root)
    if info is None or not info.running:
        out.print(f"no daemon runs for workspace {root}", highlight=False, markup=False)
        return
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = read_pid_file(root)
        if now is None or now.pid != info.pid or not now.running:
            out.print(f"stopped the daemon (pid {info.pid})", highlight=False, markup=False)
            return
        time.sleep(0.1)
    err.print(
        f"the daemon (pid {info.pid}) still runs after {timeout:g} s", highlight=False, markup=False
    )
    raise typer.Exit(1)
