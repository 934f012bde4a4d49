"""Pointing this process's Prefect at one server, in a way Prefect 3.8 actually honours.

Prefect reads its settings once, when ``prefect`` is imported; changing ``os.environ`` later is
ignored (and Prefect silently starts its temporary server). What takes effect: updating
``os.environ`` *and* rebuilding the global settings context (every thread, and worker
processes started afterwards, see it), plus ``temporary_settings`` for the current context
(it wins over an outer ``temporary_settings`` a caller may have entered).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .server import client_env, resolve_api_url

log = logging.getLogger("headrace.prefect")


def api_url_for(workspace: Path) -> str:
    """The API URL a run reports to: PREFECT_API_URL, else the workspace's (started) server.

    Args:
        workspace: the headrace workspace folder.

    Raises:
        PrefectServerError: PREFECT_API_URL does not answer, or the server cannot start.
    """
    url, started = resolve_api_url(workspace)
    if started:
        ui = ui_url(url)
        print(
            f"headrace: started the workspace's Prefect server at {ui} "
            "(it keeps running; stop it with `headrace ui --stop`)",
            file=sys.stderr,
        )
    log.info("reporting to the Prefect API at %s", url)
    return url


def ui_url(api_url: str) -> str:
    """The browser address of the Prefect UI serving ``api_url``."""
    return api_url.rstrip("/").removesuffix("/api")


@contextlib.contextmanager
def pointed_at(api_url: str, workspace: Path) -> Iterator[None]:
    """Point in-process Prefect (and processes started inside) at ``api_url``; restore on exit.

    Rebuilding Prefect's settings costs ~0.1 s each way, so only what differs is changed: when
    the environment and the settings already point there (a loop of runs, a process started
    with them), nothing is rebuilt. On exit Prefect's background log and event workers are
    drained first, so everything the run produced reaches this server before the settings
    change back.

    Args:
        api_url: the Prefect API URL.
        workspace: the headrace workspace folder (PREFECT_HOME goes inside it).
    """
    env = client_env(api_url, workspace)
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    import prefect.context  # reads os.environ when first imported
    import prefect.settings as settings

    updates = {getattr(settings, k): v for k, v in env.items() if hasattr(settings, k)}
    stale = not _holds(getattr(prefect.context, "GLOBAL_SETTINGS_CONTEXT", None), updates)
    if stale:
        prefect.context.refresh_global_settings_context()
    # an outer temporary_settings wins over the global settings: override it too
    outer = prefect.context.SettingsContext.__var__.get(None)
    scoped = outer is not None and not _holds(outer, updates)
    try:
        with settings.temporary_settings(updates=updates) if scoped else contextlib.nullcontext():
            try:
                yield
            finally:
                drain()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if any(saved[k] != v for k, v in env.items()):
            prefect.context.refresh_global_settings_context()


def _holds(context: Any, updates: dict[Any, str]) -> bool:
    """Whether a Prefect settings context already has every value of ``updates``."""
    if context is None:
        return False
    for setting, wanted in updates.items():
        value = setting.value_from(context.settings)
        if isinstance(value, bool):
            value = "true" if value else "false"
        if str(value) != wanted:
            return False
    return True


def drain(timeout: float = 10) -> None:
    """Deliver the logs and events Prefect still buffers in background threads."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout, at_exit=False)
