"""Pytest fixture for a real Prefect server, and a context that points in-process Prefect at it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from headrace.engine.execution.executors.prefect.server import ServerInfo, client_env, start, stop


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """Start a real Prefect server (SQLite, free loopback port) for the session; stop it after.

    The server's workspace is a fresh temporary folder, so its database starts empty. Starting
    takes 7-20 s; the server is stopped even when tests fail or the session is interrupted.
    """
    workspace = tmp_path_factory.mktemp("prefect-workspace")
    info = start(workspace, port=None)
    try:
        yield info
    finally:
        stop(workspace)


def workspace_of(info: ServerInfo) -> Path:
    """Return the headrace workspace a server started by ``start`` belongs to."""
    return Path(info.home).parent


@contextlib.contextmanager
def prefect_client_env(info: ServerInfo) -> Iterator[dict[str, str]]:
    """Point this process (os.environ and already-imported Prefect) at ``info``'s server.

    Prefect 3.8 reads its settings once, when ``prefect`` is first imported, into a global
    settings context; changing os.environ afterwards is ignored (Prefect then silently starts
    its temporary server). Measured on 3.8.8, what takes effect once prefect is imported:

    - ``prefect.context.refresh_global_settings_context()`` after updating os.environ rebuilds
      the global settings from the environment: every thread sees it;
    - ``prefect.settings.temporary_settings(updates={PREFECT_API_URL: url})`` only affects the
      current context (and the task runner's threads, which copy it), and wins over the global
      one, so it is entered too in case an outer temporary_settings is active.

    Subprocesses started inside the block inherit the variables. On exit, Prefect's background
    log and event workers are drained (so they deliver to this server), then the previous
    environment and settings are restored. Prefect's event worker does not key its instance on
    the API URL, which is another reason for draining before pointing at a different server.

    Args:
        info: the server to report to.

    Yields:
        the client environment variables that were set.
    """
    from headrace.engine.execution.executors.prefect.env import pointed_at

    with pointed_at(info.url, workspace_of(info)):
        yield client_env(info.url, workspace_of(info))
