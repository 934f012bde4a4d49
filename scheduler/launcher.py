"""Starting a firing's run: a child process per run, which reads what to run from a file.

The daemon never imports user code: the child loads the pipeline, reads the type of the
trigger's data parameter, builds its value, and runs. Parameters travel in a request file
(``scheduler-logs/RUN_ID.request.json``), never in argv, so a burst of any size and any file
name (commas included) reaches the run as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from headrace.scheduler.store import Firing

if TYPE_CHECKING:
    from headrace.engine import Pipeline
    from headrace.engine.store.workspace import Workspace
    from headrace.scheduler.source import TriggerSpec

#: The error a run records when the daemon stopped it (not the user): it is fired again.
STOPPED = (
    "stopped because the scheduler daemon stopped; its firing runs again, as a new attempt, "
    "when the daemon starts"
)
#: The error of a run whose process got SIGTERM from anyone but the daemon (a shutdown, an
#: admin, an OOM helper): not a user's cancel, so its firing runs again like an interrupted one.
TERMINATED = (
    "stopped by SIGTERM (not a user's cancel: Ctrl-C or SIGINT is); its firing runs again, as "
    "a new attempt"
)
#: The error of a run a user canceled (as the engine's runner words it).
USER_CANCEL = "canceled by the user (KeyboardInterrupt)"
#: What the daemon sends a child once it has recorded the child's process (``release``).
GO = b"go\n"
#: A child's exit code when the daemon died before releasing it: it ran nothing.
NOT_RELEASED = 3
NOT_RELEASED_TEXT = (
    "the scheduler daemon ended before it recorded this run's process, so it ran nothing; "
    "the next daemon fires it again"
)
#: A Path data parameter given several files gets this folder of only them, per run.
INPUTS_DIR = "trigger-inputs"


def log_dir(workspace: Path) -> Path:
    """The folder of the runs' logs, requests and stop markers."""
    return Path(workspace) / "scheduler-logs"


def stop_marker(workspace: Path, run_id: str) -> Path:
    """The file the daemon writes before it stops run ``run_id`` (so nobody takes it for a
    user's cancel, not even a daemon started after this one died)."""
    return log_dir(workspace) / f"{run_id}.stop"


def encode_files(files: Iterable[str]) -> str:
    """A data parameter's value for several files: comma-separated, or a JSON list when a name
    holds a comma (``headrace.engine.types.coerce`` reads both for ``list[Path]``)."""
    files = list(files)
    return json.dumps(files) if any("," in f for f in files) else ",".join(files)


def decode_files(value: str) -> list[str]:
    """Inverse of ``encode_files``."""
    if value.lstrip().startswith("["):
        return [str(f) for f in json.loads(value)]
    return [f for f in value.split(",") if f]


class Child(Protocol):
    """A started run the daemon can poll, interrupt (cancel cleanly) and kill."""

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""

    def interrupt(self) -> None:
        """Ask the run to cancel (it records Canceled)."""

    def kill(self) -> None:
        """Stop it now."""

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds; the exit code, or None if still running."""


class Launcher(Protocol):
    """Starts the run of a firing."""

    def start(self, firing: Firing, pipeline: str, workspace: Path) -> Child:
        """Start ``pipeline`` with the firing's run id and parameters in ``workspace``."""


class ProcessChild:
    """A firing's child process.

    Args:
        popen: The process.
    """

    def __init__(self, popen: subprocess.Popen[bytes]):
        self.popen = popen
        self.pid = popen.pid

    def release(self) -> None:
        """Tell the child it may run (the daemon has recorded its process)."""
        pipe = self.popen.stdin
        if pipe is None:
            return
        with contextlib.suppress(OSError):  # it died already: reap() settles it
            pipe.write(GO)
            pipe.flush()
        with contextlib.suppress(OSError):
            pipe.close()

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.popen.poll()

    def interrupt(self) -> None:
        """Send SIGINT: the run records Canceled and the child exits 130."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Send SIGKILL."""
        if self.popen.poll() is None:
            self.popen.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class SubprocessLauncher:
    """Runs each firing in ``python -c 'from headrace.scheduler.launcher import main; main()'``.

    A child process isolates user code from the daemon and picks up edited pipeline files.
    Its output goes to ``<workspace>/scheduler-logs/<run id>.log``; it runs in its own
    session, so a Ctrl-C at the daemon's terminal reaches runs only through the daemon.

    The child runs nothing until the daemon, having recorded its process id, releases it
    (``ProcessChild.release``) through its stdin. A daemon killed between the two (SIGKILL,
    OOM) closes that pipe, and the child exits without a run: the next daemon finds a firing
    with no run and no live process and fires it again, once. Without the wait, the child
    could be running unrecorded while the next daemon fired the same firing a second time.
    """

    def start(self, firing: Firing, pipeline: str, workspace: Path) -> Child:
        """Write the request file, then start the child process."""
        logs = log_dir(workspace)
        logs.mkdir(parents=True, exist_ok=True)
        request = {
            "run_id": firing.run_id,
            "schedule": firing.schedule,
            "pipeline": pipeline,
            "workspace": str(workspace),
            "params": firing.params,
            "data_param": firing.data_param,
        }
        path = logs / f"{firing.run_id}.request.json"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(request))
        os.replace(tmp, path)
        code = "from headrace.scheduler.launcher import main; main()"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
        with open(logs / f"{firing.run_id}.log", "ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-c", code, str(path)],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        return ProcessChild(popen)


# the child process ----------------------------------------------------------------------
def main(argv: list[str] | None = None) -> NoReturn:
    """The child's entry: run the request file named by the first argument; exit 0 only when
    the run Completed (1 when it did not, 2 for a pipeline or parameter error, 130 when
    canceled)."""
    request_file = Path((sys.argv[1:] if argv is None else argv)[0])
    if not _released():
        print(NOT_RELEASED_TEXT, file=sys.stderr, flush=True)
        request_file.unlink(missing_ok=True)
        sys.exit(NOT_RELEASED)
    request = json.loads(request_file.read_text())
    try:
        code = run_request(request)
    finally:
        request_file.unlink(missing_ok=True)
    sys.exit(code)


def _released() -> bool:
    """Wait for the daemon's go on stdin (EOF: the daemon died before it recorded this
    process); stdin then reads as empty, as a user's code expects of a background run."""
    try:
        line = sys.stdin.buffer.readline()
    except (OSError, ValueError, AttributeError):  # no stdin at all: started by hand
        line = GO
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    return line == GO


def run_request(request: dict[str, Any]) -> int:
    """Load the pipeline, build the parameters, run, print the steps; the exit code."""
    from headrace.engine.cli.console import err, out, print_failures, quiet_engine_logs
    from headrace.engine.cli.view import steps_table
    from headrace.engine.definitions.loader import load_pipeline
    from headrace.engine.errors import HeadraceError
    from headrace.engine.status import Status
    from headrace.engine.store.workspace import Workspace

    run_id = request["run_id"]
    ws_root = Path(request["workspace"])
    _interrupt(ws_root, run_id)
    quiet_engine_logs()
    try:
        ws = Workspace(ws_root)
        pipe = load_pipeline(request["pipeline"])
        values = data_values(pipe, request, ws)
        executor = executor_of(ws, request["schedule"])
        tags = {"schedule": request["schedule"]}
        run = pipe.submit(values, run_id=run_id, workspace=ws, executor=executor, tags=tags)
    except KeyboardInterrupt as exc:
        why = STOPPED if stop_marker(ws_root, run_id).exists() else str(exc) or USER_CANCEL
        _record_cancel(ws_root, run_id, why)
        err.print(
            f"run {run_id}: " + (why if why != USER_CANCEL else "canceled; recorded as Canceled")
        )
        return 143 if why == TERMINATED else 130  # 130: a user's cancel, to the daemon
    except HeadraceError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return 2
    out.print(steps_table(run))
    print_failures(run)
    out.print(f"run id: {run.id}  status: {run.status}", highlight=False)
    return 0 if run.status == Status.COMPLETED else 1


def executor_of(ws: Workspace, schedule: str) -> Any:
    """The executor the schedule's runs use (``schedule create --executor``).

    Raises:
        HeadraceError: Its ``--dask-address`` does not answer (the attempt did not start).
    """
    from headrace.engine.cli.console import make_cli_executor
    from headrace.scheduler.store import SchedulerStore

    row = SchedulerStore(ws.history).schedule(schedule)
    options = json.loads(row.options or "{}") if row else {}
    return make_cli_executor(
        options.get("executor") or "local",
        dask_address=options.get("dask_address"),
        workspace=ws.root,
    )


def _record_cancel(workspace: Path, run_id: str, why: str) -> None:
    """Finish the run's record as Canceled for ``why`` (the runner may have been interrupted
    before it could, or have written a user's cancel where the daemon stopped it)."""
    from headrace.engine.status import Status
    from headrace.engine.store.workspace import Workspace

    with Workspace(workspace) as ws:
        history = ws.history
        status = history.run_status(run_id)
        if status is None or (status.is_final and status != Status.CANCELED):
            return
        if status.is_final:
            history.update_run(run_id, error=why)
            return
        now = time.time()
        steps = [s["step"] for s in history.get_steps(run_id) if not Status(s["status"]).is_final]
        history.update_steps(
            run_id, [(s, {"status": Status.CANCELED.value, "finished_at": now}) for s in steps]
        )
        history.update_run(run_id, status=Status.CANCELED.value, finished_at=now, error=why)


def _interrupt(workspace: Path, run_id: str) -> None:
    """SIGINT and SIGTERM cancel the run once (KeyboardInterrupt; later signals are ignored).

    The interrupt carries the reason: ``STOPPED`` when the daemon asked (its stop marker),
    ``TERMINATED`` for anyone else's SIGTERM, else (SIGINT) a user's cancel; a runner that
    reads ``str(exc)`` records it as the run's error.
    """

    def handler(signum: int, frame: Any) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if stop_marker(workspace, run_id).exists():
            raise KeyboardInterrupt(STOPPED)
        raise KeyboardInterrupt(TERMINATED if signum == signal.SIGTERM else "")

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def data_values(pipe: Pipeline, request: dict[str, Any], ws: Workspace) -> dict[str, Any]:
    """The run's parameters, with the trigger's changed files as its data parameter wants them.

    ``list[Path]`` gets the files; ``Path`` gets the file when there is one, else a folder of
    only this firing's files (see ``gather``). A file that a link now takes out of the watched
    folder is left out.
    """
    from headrace.engine.types import PATH, PATHS
    from headrace.scheduler.validate import parameter_kind

    params: dict[str, Any] = dict(request["params"])
    name = request.get("data_param")
    if not name or not isinstance(params.get(name), str):
        return params
    spec = _trigger(ws, request["schedule"])
    files = decode_files(params[name])
    if spec is not None and spec.is_local:
        files = [f for f in files if _inside(f, spec.path)]
    kind = parameter_kind(pipe, name)
    if kind == PATHS:
        params[name] = [f if "://" in f else Path(f) for f in files]
    elif kind == PATH:
        one = len(files) == 1
        params[name] = files[0] if one else str(gather(files, spec, ws.root, request["run_id"]))
    return params


def _trigger(ws: Workspace, schedule: str) -> TriggerSpec | None:
    from headrace.scheduler.source import TriggerSpec
    from headrace.scheduler.store import SchedulerStore

    row = SchedulerStore(ws.history).schedule(schedule)
    return TriggerSpec.from_dict(json.loads(row.spec)) if row and row.kind == "trigger" else None


def _inside(path: str, root: str) -> bool:
    from headrace.scheduler.source import outside

    if "://" in path or outside(path, root) is None:
        return True
    print(f"left out {path}: a link takes it out of the watched folder {root}", file=sys.stderr)
    return False


def gather(files: list[str], spec: TriggerSpec | None, workspace: Path, run_id: str) -> Path:
    """A folder ``<workspace>/trigger-inputs/<run id>`` holding only ``files``.

    Each file keeps its path relative to the watched folder; local files are hard links
    (copies across filesystems), remote ones are downloaded.
    """
    folder = Path(workspace) / INPUTS_DIR / run_id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    root = spec.path.rstrip("/") if spec is not None else ""
    for f in files:
        dest = folder / _relative(f, root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if "://" in f:
            import fsspec

            from headrace.engine.store.credentials import resolve

            fs, path = fsspec.core.url_to_fs(f, **resolve(spec.storage_options if spec else {}))
            fs.get(path, str(dest))
            continue
        try:
            os.link(f, dest)
        except OSError:
            shutil.copy2(f, dest)
    return folder


def _relative(path: str, root: str) -> str:
    rel = path[len(root) + 1 :] if root and path.startswith(root + "/") else ""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    return "/".join(parts) if parts and ".." not in parts else path.rsplit("/", 1)[-1]
