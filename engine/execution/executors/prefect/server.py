"""The workspace's local Prefect server: start, find, stop, and the environment its clients need."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ....errors import PrefectServerError
from ....store.processes import pid_alive

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
_RECORD = "server.json"
_LOG = "server.log"
# Inherited variables that would point the server (or its UI) somewhere else.
_CLIENT_ONLY_VARS = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_UI_URL")
# Popen objects of servers this process started, kept so they can be reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServerInfo:
    """A running Prefect server.

    Attributes:
        url: the API URL clients report to, e.g. ``http://127.0.0.1:4200/api``.
        ui_url: the address of the Prefect UI in a browser.
        pid: the server's process id (None when the server was not started by headrace).
        port: the TCP port on the loopback interface.
        home: the server's PREFECT_HOME (database, server.log, server.json).
    """

    url: str
    ui_url: str
    pid: int | None
    port: int
    home: str


def prefect_home(workspace: Path) -> Path:
    """Return the folder holding the workspace's Prefect database, logs and server record.

    Args:
        workspace: the headrace workspace folder.
    """
    return Path(workspace).expanduser().resolve() / "prefect"


def server_env(workspace: Path, port: int) -> dict[str, str]:
    """Return the Prefect settings the server process runs with (added to the inherited env).

    The database and PREFECT_HOME live in the workspace, the server listens on loopback only,
    analytics are off, and the UI is told to call this port (it defaults to 4200 otherwise).

    Args:
        workspace: the headrace workspace folder.
        port: the port the server listens on.
    """
    home = prefect_home(workspace)
    api_url = f"http://{HOST}:{port}/api"
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_UI_API_URL": api_url,
        "PREFECT_UI_URL": f"http://{HOST}:{port}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_CLI_COLORS": "false",
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_CLI_WRAP_LINES": "false",
    }


def client_env(api_url: str, workspace: Path) -> dict[str, str]:
    """Return the environment a process or thread needs to report runs to ``api_url``.

    Prefect never starts its temporary (ephemeral) server with these, and keeps its own files
    (PREFECT_HOME: profiles, local result storage) inside the workspace.

    Args:
        api_url: the Prefect API URL, e.g. ``ServerInfo.url``.
        workspace: the headrace workspace folder.
    """
    env = {
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(prefect_home(workspace)),
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_ENABLE_HTTP2": "false",
    }
    no_proxy = os.environ.get("NO_PROXY", os.environ.get("no_proxy", ""))
    if os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy"):
        extra = ",".join(h for h in ("127.0.0.1", "localhost") if h not in no_proxy)
        if extra:
            env["NO_PROXY"] = env["no_proxy"] = f"{no_proxy},{extra}".strip(",")
    return env


def health(api_url: str, timeout: float = 2.0) -> bool:
    """Return whether ``GET <api_url>/health`` answers 200 (no proxy is used).

    Args:
        api_url: the Prefect API URL.
        timeout: seconds to wait for the answer.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(api_url.rstrip("/") + "/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def recorded(workspace: Path) -> ServerInfo | None:
    """Return the workspace's recorded server if its process is alive and /health answers.

    Args:
        workspace: the headrace workspace folder.
    """
    info = _read_record(workspace)
    if info is None or info.pid is None or not _is_server(info.pid):
        return None
    return info if health(info.url) else None


def start(workspace: Path, port: int | None = DEFAULT_PORT, timeout: float = 60) -> ServerInfo:
    """Start the workspace's Prefect server (detached), or return the one already running.

    The server keeps running after this process exits; ``stop`` ends it. Its output goes to
    ``<workspace>/prefect/server.log`` and its address to ``<workspace>/prefect/server.json``.

    Args:
        workspace: the headrace workspace folder.
        port: the loopback port to listen on; None picks a free one.
        timeout: seconds to wait until the server answers /health.

    Raises:
        PrefectServerError: the port is taken, or the server died or did not answer in time.
    """
    home = prefect_home(workspace)
    home.mkdir(parents=True, exist_ok=True)
    with _start_lock(home):  # a second caller waits, then finds the first one's server
        running = _settle_recorded(workspace, timeout)
        if running is not None:
            return running
        port = _free_port() if port is None else port
        _check_port(port)
        info = _spawn(workspace, port, timeout)
        _write_record(workspace, info)
        return info


def stop(workspace: Path, timeout: float = 20) -> bool:
    """Stop the workspace's recorded server and forget it.

    Sends SIGTERM to the server's process group, waits up to ``timeout`` seconds, then SIGKILL.

    Args:
        workspace: the headrace workspace folder.
        timeout: seconds to wait for a graceful shutdown.

    Returns:
        True if a server was running and has been stopped, False if none was running.
    """
    info = _read_record(workspace)
    was_running = False
    if info is not None and info.pid is not None and _is_server(info.pid):
        was_running = True
        _terminate(info.pid, timeout)
    with contextlib.suppress(FileNotFoundError):
        (prefect_home(workspace) / _RECORD).unlink()
    return was_running


def resolve_api_url(workspace: Path, start_if_missing: bool = True) -> tuple[str, bool]:
    """Return the Prefect API URL a prefect-executor run reports to, and whether it started now.

    In order: PREFECT_API_URL from the environment (checked with a health probe); the
    workspace's recorded server; a new server for the workspace (port 4200, or a free port when
    4200 is taken). Prefect's temporary ephemeral server is never used.

    Args:
        workspace: the headrace workspace folder.
        start_if_missing: start a server when neither of the first two exists.

    Raises:
        PrefectServerError: PREFECT_API_URL does not answer, or no server runs and
            ``start_if_missing`` is False, or the server cannot start.
    """
    env_url = os.environ.get("PREFECT_API_URL", "").strip()
    if env_url:
        if not health(env_url, timeout=5):
            raise PrefectServerError(
                f"PREFECT_API_URL={env_url} does not answer at {env_url.rstrip('/')}/health. "
                "Start that Prefect server, or unset PREFECT_API_URL so headrace uses the "
                "workspace's own server (`headrace ui`)."
            )
        return env_url, False
    info = recorded(workspace)
    if info is not None:
        return info.url, False
    if not start_if_missing:
        raise PrefectServerError(
            f"no Prefect server is running for workspace {Path(workspace).resolve()}. "
            "Start one with `headrace ui`, or set PREFECT_API_URL to a running server."
        )
    port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else None
    return start(workspace, port=port).url, True


def _spawn(workspace: Path, port: int, timeout: float) -> ServerInfo:
    """Start `prefect server start` in its own session and wait until it answers /health."""
    home = prefect_home(workspace)
    env = {k: v for k, v in os.environ.items() if k not in _CLIENT_ONLY_VARS}
    env.update(server_env(workspace, port))
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST]
    with open(home / _LOG, "wb") as log:
        proc = subprocess.Popen(
            [*command, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    url = f"http://{HOST}:{port}"
    info = ServerInfo(url=f"{url}/api", ui_url=url, pid=proc.pid, port=port, home=str(home))
    _wait_healthy(proc, info, timeout)
    return info


@contextlib.contextmanager
def _start_lock(home: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``home`` (POSIX flock; no lock where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(home / "server.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _settle_recorded(workspace: Path, timeout: float) -> ServerInfo | None:
    """Return the recorded server once healthy; clear a record whose server is gone or stuck."""
    info = _read_record(workspace)
    if info is None or info.pid is None:
        return None
    deadline = time.monotonic() + timeout
    while _is_server(info.pid) and time.monotonic() < deadline:
        if health(info.url):
            return info
        time.sleep(0.25)  # another process may have started it a moment ago
    stop(workspace)
    return None


def _wait_healthy(proc: subprocess.Popen[bytes], info: ServerInfo, timeout: float) -> None:
    """Wait until the new server answers /health; kill it and raise with its log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _CHILDREN.pop(proc.pid, None)
            raise PrefectServerError(
                f"the Prefect server on port {info.port} exited with code {proc.returncode} "
                f"while starting. Last lines of {info.home}/{_LOG}:\n{_log_tail(info.home)}"
            )
        if health(info.url, timeout=1):
            return
        time.sleep(0.25)
    _terminate(proc.pid, 5)
    raise PrefectServerError(
        f"the Prefect server on port {info.port} did not answer {info.url}/health within "
        f"{timeout:g} s and was stopped. Last lines of {info.home}/{_LOG}:\n{_log_tail(info.home)}"
    )


def _log_tail(home: str, lines: int = 20) -> str:
    """Return the last lines of the server log, or a note that there is none."""
    try:
        text = (Path(home) / _LOG).read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


def _read_record(workspace: Path) -> ServerInfo | None:
    """Return the server recorded in server.json, or None if absent or unreadable."""
    home = prefect_home(workspace)
    try:
        data = json.loads((home / _RECORD).read_text())
        pid = None if data.get("pid") is None else int(data["pid"])
        url, ui_url, port = str(data["url"]), str(data["ui_url"]), int(data["port"])
        return ServerInfo(url=url, ui_url=ui_url, pid=pid, port=port, home=str(home))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_record(workspace: Path, info: ServerInfo) -> None:
    """Write server.json atomically."""
    path = prefect_home(workspace) / _RECORD
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(info), indent=2) + "\n")
    os.replace(tmp, path)


def _free_port() -> int:
    """Return a loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    """Return whether the server could bind ``port`` (uvicorn binds with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _check_port(port: int) -> None:
    """Raise a clear error when ``port`` is already taken."""
    if _port_free(port):
        return
    url = f"http://{HOST}:{port}/api"
    is_prefect = health(url, timeout=0.5)
    what = "another Prefect server (not this workspace's)" if is_prefect else "another program"
    hint = f" To use that server instead, set PREFECT_API_URL={url}." if is_prefect else ""
    raise PrefectServerError(
        f"port {port} on {HOST} is already in use by {what}. "
        f"Choose another port with --port (or port=None for a free one).{hint}"
    )


def _alive(pid: int) -> bool:
    """Return whether process ``pid`` runs; a server we started and that ended is reaped first."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    return pid_alive(pid)


def _is_server(pid: int) -> bool:
    """Return whether ``pid`` is alive and (where /proc shows it) a `prefect server` process."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the record
    return any(part.endswith(b"prefect") for part in cmdline) and b"server" in cmdline


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM the process (its group, if it leads one), wait, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                child = _CHILDREN.pop(pid, None)
                if child is not None:  # it may have died between poll() and the pid check:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        child.wait(timeout=5)  # reap it, or it stays behind as a zombie
                return
            time.sleep(0.1)
