"""The CLI's console: one stdout/stderr pair, ``fail()``, the shared options and argument parsers."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import HeadraceError
from ..status import Status

if TYPE_CHECKING:
    from ..execution.executors import Executor
    from ..store.runs import PipelineRun
    from ..store.workspace import Workspace

# Piped output (logs, CI, tests) gets a wide console so tables and paths are not folded.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default $HEADRACE_HOME, else the nearest .headrace in this "
        "folder or a parent, else ./.headrace).",
    ),
]

ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A pipeline parameter; repeatable.")
]
"""Repeated ``--param NAME=VALUE`` options; read them with ``parse_params``."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-paragraph error and exit with ``code``.

    The message is printed as it is: brackets in it (``dict[str, int]``, ``Annotated[...]``)
    are escaped, never read as Rich markup.
    """
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def canceled() -> NoReturn:
    """Report a run stopped with Ctrl-C (the runner recorded it Canceled) and exit 130."""
    err.print("[magenta]run canceled (Ctrl-C); recorded as Canceled[/]")
    raise typer.Exit(130) from None


def exit_code(status: str) -> int:
    """A finished run's exit code: 0 Completed, 130 Canceled (Ctrl-C or ``runs cancel``),
    1 otherwise."""
    if status == Status.COMPLETED:
        return 0
    return 130 if status == Status.CANCELED else 1


def parse_params(items: list[str] | None) -> dict[str, str]:
    """Parse repeated ``--param k=v`` options (a malformed or repeated one is a one-line error)."""
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--param {item!r} is not NAME=VALUE; write it like --param reg_rate=0.1")
        key = key.strip()
        if key in params:
            fail(
                f"--param {key} is given twice ({key}={params[key]} and {key}={value}); "
                "give each parameter once"
            )
        params[key] = value
    return params


def find_workspace(path: Path | None) -> tuple[Path, bool]:
    """Where the workspace is, as git finds its repository, and whether it exists already.

    ``--workspace`` wins, then ``$HEADRACE_HOME``, then the nearest ``.headrace`` holding a
    workspace in the current folder or one of its parents; else ``./.headrace`` (new).
    """
    from ..store.workspace import DEFAULT_DIRNAME, ENV_HOME, resolve_root

    if path is not None or os.environ.get(ENV_HOME):
        root = resolve_root(path)
        return root, _is_workspace(root)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if _is_workspace(folder / DEFAULT_DIRNAME):
            return folder / DEFAULT_DIRNAME, True
    return here / DEFAULT_DIRNAME, False


def _is_workspace(root: Path) -> bool:
    return (root / "headrace.db").is_file() or (root / "workspace.json").is_file()


def open_workspace(path: Path | None, *, create: bool = False) -> Workspace:
    """The workspace (see ``find_workspace``), with runs of dead processes reaped.

    A workspace found in a parent folder is named on stderr. Only commands that record
    something pass ``create=True``: a read-only command never creates a workspace.
    """
    from ..store.workspace import Workspace

    root, exists = find_workspace(path)
    if not exists and not create:
        fail(_no_workspace(path, root))
    if exists and path is None and root.parent != Path.cwd():
        err.print(f"workspace {escape(str(root))}", style="dim", highlight=False)
    if not exists:
        _check_writable(root)
    try:
        ws = Workspace(root)
        ws.history.reap_dead_runs()
    except HeadraceError as exc:
        fail(str(exc))
    except OSError as exc:  # a folder that exists but may not be written
        fail(_cannot_create(root, exc.strerror or str(exc)))
    return ws


def _check_writable(root: Path) -> None:
    """Fail with one line unless a new workspace can be created at ``root``.

    ``os.access`` asks for the real user's rights, so root (who may write anywhere) passes
    where a user would not; creating the folder then reports what is really in the way.
    """
    folder = root
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        fail(_cannot_create(root, f"{folder} is a file, not a folder"))
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(_cannot_create(root, f"{folder} is read-only for you"))


def _cannot_create(root: Path, why: str) -> str:
    return (
        f"cannot create a workspace at {root} ({why}); give a folder you may write with "
        "--workspace or $HEADRACE_HOME, or run from a folder you own"
    )


def _no_workspace(path: Path | None, root: Path) -> str:
    if path is not None:
        return (
            f"--workspace {path} is not a headrace workspace (no headrace.db in it); give the "
            "folder a run created, or run a pipeline with it first: headrace run FILE.py -w "
            f"{path}"
        )
    if os.environ.get("HEADRACE_HOME"):
        return (
            f"$HEADRACE_HOME={root} is not a headrace workspace (no headrace.db in it); point it "
            "at one, or run a pipeline first: headrace run FILE.py"
        )
    return (
        f"no headrace workspace in {Path.cwd()} or its parent folders; cd to the project whose "
        "runs you mean, give --workspace, or run a pipeline first (headrace run FILE.py "
        "creates ./.headrace)"
    )


def open_run(path: Path | None, run_id: str) -> PipelineRun:
    """The PipelineRun ``run_id`` (a unique prefix) of the workspace, or a one-line error."""
    from ..store.runs import PipelineRun

    try:
        return PipelineRun(open_workspace(path), run_id)
    except HeadraceError as exc:
        fail(str(exc))


def make_cli_executor(
    executor: str,
    max_workers: int | None = None,
    *,
    dask_address: str | None = None,
    task_runner: str = "threads",
    workspace: Path | None = None,
) -> Executor:
    """The executor ``--executor`` names, its options checked the way the CLI words them.

    A ``--dask-address`` that nothing answers at is an error within seconds (the Dask client
    would wait 30 s and print a long traceback).

    Raises:
        HeadraceError: An unknown executor, a bad --task-runner, or an unreachable address.
    """
    from ..execution.executors import make_executor

    if task_runner not in ("threads", "dask"):
        raise HeadraceError(f"--task-runner {task_runner!r} is not one of threads, dask")
    if dask_address is not None:
        if executor not in ("dask", "prefect"):
            raise HeadraceError(
                f"--dask-address goes with --executor dask (or --executor prefect --task-runner "
                f"dask), not --executor {executor}"
            )
        check_dask_address(dask_address)
    options: dict[str, Any] = {"dask_address": dask_address}
    if executor == "prefect":
        options.update(task_runner=task_runner, workspace=workspace)
    return make_executor(executor, max_workers, **options)


def check_dask_address(address: str, timeout: float = 3.0) -> None:
    """Raise a one-line error unless a TCP connection to the Dask scheduler opens in time.

    Raises:
        HeadraceError: A malformed address, or nothing accepts a connection there.
    """
    import socket
    from urllib.parse import urlsplit

    text = address if "://" in address else f"tcp://{address}"
    try:
        parts = urlsplit(text)
        scheme, host, port = parts.scheme, parts.hostname, parts.port
    except ValueError:
        scheme, host, port = "", None, None
    if scheme not in ("tcp", "tls") or not host or not port:
        raise HeadraceError(
            f"--dask-address {address!r} is not a Dask scheduler address; give it as "
            "tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"
        )
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)  # a Dask scheduler greets first: a framed handshake
            greeting = b"" if scheme == "tls" else conn.recv(8)
    except TimeoutError:
        greeting, why = None, f"nothing answered within {timeout:g} s"
    except OSError as exc:
        greeting, why = None, exc.strerror or str(exc)
    else:
        why = "what answers is not a Dask scheduler"
    if greeting is None or (scheme == "tcp" and not _dask_greeting(greeting)):
        raise HeadraceError(
            f"--dask-address {address}: no Dask scheduler answers there ({why}); start one "
            "(dask scheduler) or fix the address, or leave --dask-address out to run on a "
            "LocalCluster"
        )


def _dask_greeting(data: bytes) -> bool:
    """Whether ``data`` opens a Dask comm frame (an 8-byte little-endian length)."""
    return len(data) == 8 and 0 < int.from_bytes(data, "little") < 1 << 32


def quiet_engine_logs() -> None:
    """Keep ``distributed``'s and Prefect's INFO lines (cluster start, workers, flow and task
    runs created and finished) out of the terminal; ``-v`` shows them.

    Set in the environment too, so the worker processes a LocalCluster spawns inherit it.
    Prefect's console handler only is raised to WARNING: its API handler still sends every
    log line to the Prefect UI.
    """
    import logging

    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    logging.getLogger("distributed").setLevel(logging.WARNING)


def print_failures(result: PipelineRun) -> None:
    """Print each failed step's traceback (as plain text) to stderr."""
    for s in result.steps.values():
        if s.status == Status.FAILED:
            err.print(
                f"[bold red]step {escape(repr(s.name))} failed[/] (component {escape(s.component)}):"
            )
            err.print(s.traceback or s.error, highlight=False, markup=False)


def report_recorded_run(ws: Workspace, run_id: str) -> None:
    """Show a run that was recorded without running (a scheduled firing that never started) in
    the Prefect UI, when the workspace's server or PREFECT_API_URL answers; never raises."""
    from ..execution.executors.prefect.mirror import mirror_recorded

    try:
        mirror_recorded(ws, run_id)
    except Exception as exc:  # the Prefect UI is a view: the daemon goes on without it
        logging.getLogger("headrace.prefect.mirror").debug("not mirrored: %r", exc)
