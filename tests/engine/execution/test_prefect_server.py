"""Tests for the workspace's local Prefect server (real server processes, no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from headrace.engine.execution.executors.prefect.server import (
    PrefectServerError,
    ServerInfo,
    client_env,
    health,
    recorded,
    resolve_api_url,
    server_env,
    start,
    stop,
)

# Registered as a plugin (not imported) so that a conftest importing it too shares one server.
pytest_plugins = ["tests.prefect_fixture"]
pytestmark = pytest.mark.slow

FLOW_SCRIPT = textwrap.dedent(
    """
    import sys

    from prefect import flow, task

    @task
    def double(x: int) -> int:
        return 2 * x

    @task
    def add(a: int, b: int) -> int:
        return a + b

    @flow(name="headrace-server-check")
    def check(n: int) -> int:
        return add(double(n), n)

    if __name__ == "__main__":
        print(check.with_options(flow_run_name=sys.argv[1])(3))
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_flow_in_subprocess(info: ServerInfo, workspace: Path, tmp_path: Path) -> str:
    """Run a 2-task flow in a fresh interpreter reporting to ``info``; return its run name."""
    script = tmp_path / "two_task_flow.py"
    script.write_text(FLOW_SCRIPT)
    name = f"check-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(client_env(info.url, workspace))
    done = subprocess.run(
        [sys.executable, str(script), name],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "9"
    assert "Starting temporary server" not in done.stderr
    return name


def _flow_run_and_task_runs(info: ServerInfo, name: str) -> tuple[Any, list[Any]]:
    """Read the flow run called ``name`` and its task runs back through get_client()."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    from tests.prefect_fixture import prefect_client_env

    deadline = time.monotonic() + 15  # task runs are recorded from events, a moment later
    with prefect_client_env(info), get_client(sync_client=True) as client:
        assert str(client.api_url).rstrip("/") == info.url
        while True:
            flow_runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
            task_runs = []
            if flow_runs:
                by_flow = TaskRunFilterFlowRunId(any_=[flow_runs[0].id])
                task_runs = client.read_task_runs(
                    task_run_filter=TaskRunFilter(flow_run_id=by_flow)
                )
            finished = [t for t in task_runs if t.state_name == "Completed"]
            if len(finished) == 2 or time.monotonic() > deadline:
                return (flow_runs[0] if flow_runs else None), task_runs
            time.sleep(0.5)


def test_importing_the_module_does_not_import_prefect():
    code = "import sys, headrace.engine.execution.executors.prefect.server; print('prefect' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_server_env_names_are_prefect_settings(tmp_path, monkeypatch):
    from prefect.settings import Settings

    for name, value in server_env(tmp_path, 4321).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    home = (tmp_path / "prefect").resolve()
    assert settings.home == home
    assert settings.server.api.host == "127.0.0.1"
    assert settings.server.api.port == 4321
    assert settings.server.ui.api_url == "http://127.0.0.1:4321/api"
    assert settings.server.database.connection_url.get_secret_value() == (
        f"sqlite+aiosqlite:///{home / 'prefect.db'}"
    )
    assert settings.server.analytics_enabled is False
    assert settings.server.ephemeral.enabled is False


def test_client_env_names_are_prefect_settings(tmp_path, monkeypatch):
    from prefect.settings import Settings

    for name, value in client_env("http://127.0.0.1:4321/api", tmp_path).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.api.url == "http://127.0.0.1:4321/api"
    assert settings.home == (tmp_path / "prefect").resolve()
    assert settings.server.ephemeral.enabled is False
    assert os.environ["DO_NOT_TRACK"] == "1"


def _seed_workspace(source: ServerInfo, workspace: Path) -> None:
    """Copy a live server's database (SQLite backup) into ``workspace``: skips the migrations.

    A server on a new database starts in 15-20 s here, on an existing one in 5-9 s.
    """
    home = workspace / "prefect"
    home.mkdir(parents=True)
    with (
        closing(sqlite3.connect(Path(source.home) / "prefect.db")) as src,
        closing(sqlite3.connect(home / "prefect.db")) as dst,
    ):
        src.backup(dst)
    memo = Path(source.home) / "memo_store.toml"  # block types already registered
    if memo.exists():
        shutil.copy(memo, home / memo.name)


def test_server_lifecycle_start_reuse_report_stop(prefect_server, tmp_path):
    workspace = tmp_path / "ws"
    _seed_workspace(prefect_server, workspace)  # a fresh database is covered by the fixture
    info = start(workspace, port=None)
    assert info.pid != prefect_server.pid
    try:
        record = json.loads((workspace / "prefect" / "server.json").read_text())
        assert record["url"] == info.url == f"http://127.0.0.1:{info.port}/api"
        assert (record["ui_url"], record["pid"], record["port"]) == (
            info.ui_url,
            info.pid,
            info.port,
        )
        assert health(info.url)
        assert recorded(workspace) == info
        assert start(workspace, port=None).pid == info.pid
        with urllib.request.urlopen(info.ui_url + "/ui-settings", timeout=5) as answer:
            assert json.load(answer)["api_url"] == info.url  # the UI calls this port

        name = _run_flow_in_subprocess(info, workspace, tmp_path)
        flow_run, task_runs = _flow_run_and_task_runs(info, name)
        assert flow_run is not None and flow_run.state_name == "Completed"
        assert flow_run.parameters == {"n": 3}
        assert sorted(t.state_name for t in task_runs) == ["Completed", "Completed"]
    finally:
        stopped = stop(workspace)
    assert stopped is True
    with pytest.raises(ProcessLookupError):
        os.kill(info.pid, 0)
    assert not (workspace / "prefect" / "server.json").exists()
    assert not health(info.url, timeout=1)
    assert recorded(workspace) is None
    assert stop(workspace) is False


def test_start_on_a_taken_port_names_the_port(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PrefectServerError, match=rf"port {port} .*already in use.*--port"):
            start(tmp_path, port=port, timeout=10)
    assert not (tmp_path / "prefect" / "server.json").exists()


def test_a_server_that_dies_while_starting_shows_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_SERVER_API_KEEPALIVE_TIMEOUT", "not-a-number")
    with pytest.raises(PrefectServerError, match=r"(?s)exited with code .*server\.log.*Error"):
        start(tmp_path, port=None)
    assert not (tmp_path / "prefect" / "server.json").exists()


def test_a_server_that_does_not_answer_in_time_is_stopped(tmp_path):
    with pytest.raises(PrefectServerError, match=r"did not answer .*/health within 1 s"):
        start(tmp_path, port=None, timeout=1)
    assert not (tmp_path / "prefect" / "server.json").exists()
    assert recorded(tmp_path) is None


def test_resolve_api_url_honours_prefect_api_url(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", prefect_server.url)
    assert resolve_api_url(tmp_path) == (prefect_server.url, False)
    assert not (tmp_path / "prefect" / "server.json").exists()  # nothing started


def test_resolve_api_url_rejects_an_unreachable_prefect_api_url(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", url)
    with pytest.raises(PrefectServerError, match=r"PREFECT_API_URL=.* does not answer"):
        resolve_api_url(tmp_path)


def test_resolve_api_url_finds_the_workspace_server(prefect_server, monkeypatch):
    from tests.prefect_fixture import workspace_of

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert resolve_api_url(workspace_of(prefect_server)) == (prefect_server.url, False)


def test_resolve_api_url_without_server_and_without_start_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(PrefectServerError, match="no Prefect server is running.*headrace ui"):
        resolve_api_url(tmp_path, start_if_missing=False)


def test_prefect_client_env_points_imported_prefect_at_the_server(prefect_server):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, get_current_settings

    from tests.prefect_fixture import prefect_client_env

    @flow(name="headrace-in-process-check")
    def in_process() -> str:
        return "ok"

    # Restoring means: back to what the environment says (an earlier test's monkeypatch may
    # have left imported Prefect's settings out of step with it).
    before = os.environ.get("PREFECT_API_URL")
    name = f"in-process-{uuid.uuid4().hex[:8]}"
    with prefect_client_env(prefect_server):
        assert PREFECT_API_URL.value() == prefect_server.url
        assert get_current_settings().server.ephemeral.enabled is False
        state = in_process.with_options(flow_run_name=name)(return_state=True)
        with get_client(sync_client=True) as client:
            stored = client.read_flow_run(state.state_details.flow_run_id)
    assert (stored.name, stored.state_name) == (name, "Completed")
    assert os.environ.get("PREFECT_API_URL") == before
    assert PREFECT_API_URL.value() == before


def test_pointing_twice_at_the_same_server_rebuilds_nothing(prefect_server, tmp_path):
    import prefect.context

    from headrace.engine.execution.executors.prefect.env import pointed_at

    before = os.environ.get("PREFECT_API_URL")
    with pointed_at(prefect_server.url, tmp_path):
        outer = prefect.context.SettingsContext.get()
        assert outer.settings.api.url == prefect_server.url
        with pointed_at(prefect_server.url, tmp_path):  # a loop of runs in one process
            assert prefect.context.SettingsContext.get() is outer
        assert prefect.context.SettingsContext.get() is outer
        assert os.environ["PREFECT_API_URL"] == prefect_server.url
    assert os.environ.get("PREFECT_API_URL") == before
    assert prefect.context.SettingsContext.get().settings.api.url == before
