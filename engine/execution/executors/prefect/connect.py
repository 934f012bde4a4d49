"""How the Prefect mirror reaches a server: which one (a cached health probe) and a client."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .server import _is_server, _read_record, client_env, health, prefect_home

PROBE_TIMEOUT = 0.5  # seconds a health probe waits for the server
PROBE_TTL = {True: 30.0, False: 5.0}  # seconds a probe's answer is reused (up, down)
_probes: dict[str, tuple[float, bool]] = {}
_probes_lock = threading.Lock()


def server_url(workspace: os.PathLike[str] | str) -> str | None:
    """The API URL to mirror runs to: PREFECT_API_URL, else the workspace's recorded server;
    None when neither answers a health probe (the answer is cached for a few seconds)."""
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if not url:
        info = _read_record(Path(workspace))
        if info is None or info.pid is None or not _is_server(info.pid):
            return None
        url = info.url
    now = time.monotonic()
    with _probes_lock:
        cached = _probes.get(url)
    if cached is not None and now - cached[0] < PROBE_TTL[cached[1]]:
        return url if cached[1] else None
    up = health(url, timeout=PROBE_TIMEOUT)
    with _probes_lock:
        _probes[url] = (now, up)
    return url if up else None


def mark_down(url: str) -> None:
    """Remember that ``url`` went away, so the next runs do not try it again for a while."""
    with _probes_lock:
        _probes[url] = (time.monotonic(), False)


@contextlib.contextmanager
def sync_client(url: str, workspace: Path) -> Iterator[Any]:
    """A sync Prefect client for ``url`` with settings scoped to this thread; prefect is
    imported here, on first use.

    Prefect reads its home and analytics settings once, at import, from the environment: the
    first use sets those that are unset (``setdefault``; never PREFECT_API_URL), so they stay
    in ``os.environ`` for the rest of the process.
    """
    if "prefect" not in sys.modules:
        for name, value in client_env(url, workspace).items():  # read once, at import
            if name != "PREFECT_API_URL":
                os.environ.setdefault(name, value)
        prefect_home(workspace).mkdir(parents=True, exist_ok=True)
    # Everything the mirror uses, imported while the interpreter is not exiting (Mirror.close).
    import prefect.client.schemas.actions
    import prefect.client.schemas.objects
    import prefect.states  # noqa: F401
    from prefect.client.orchestration import get_client
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_CLIENT_MAX_RETRIES,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        temporary_settings,
    )

    updates = {
        PREFECT_API_URL: url,
        PREFECT_SERVER_EPHEMERAL_ENABLED: False,
        PREFECT_CLIENT_MAX_RETRIES: 0,  # a server that went away is not waited for
    }
    with (
        temporary_settings(updates=updates),
        get_client(httpx_settings={"timeout": 10.0}, sync_client=True) as client,
    ):
        yield client


def post_artifact(client: Any, artifact: Any) -> None:
    """Create an artifact by a plain POST: ``client.create_artifact`` also emits an event
    through Prefect's events worker, which cannot start once the interpreter is exiting."""
    client.request("POST", "/artifacts/", json=artifact.model_dump(mode="json", exclude_unset=True))
