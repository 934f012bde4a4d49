"""What a long-running step publishes on its Prefect task run: a progress artifact and tables.

A step that runs inside a Prefect task run (the prefect executor) asks :func:`task_run_reporter`
for a reporter; elsewhere it gets None. Nothing here imports prefect unless a task run is
active already, and a server error only costs the artifact, never the step.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from typing import Any

MIN_INTERVAL = 1.0  # seconds between progress updates sent to the server


def _key(*parts: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-") or "headrace"


def task_run_reporter(step: str, what: str) -> TaskRunReporter | None:
    """A reporter for the Prefect task run this code runs in, or None outside one."""
    if "prefect" not in sys.modules:
        return None
    from prefect.context import TaskRunContext

    if TaskRunContext.get() is None:
        return None
    return TaskRunReporter(step, what)


class TaskRunReporter:
    """A progress artifact on the current task run, and table artifacts beside it.

    Args:
        step: the step name (artifact keys start with it).
        what: what the progress counts, for the artifact's description.
    """

    def __init__(self, step: str, what: str):
        from prefect.artifacts import create_progress_artifact

        self.step = step
        self.last = 0.0
        self.id: Any = None
        with contextlib.suppress(Exception):
            self.id = create_progress_artifact(
                progress=0.0, key=_key(step, "progress"), description=f"{step}: {what}"
            )

    def progress(self, percent: float, force: bool = False) -> None:
        """Set the progress (0..100), at most once a second unless ``force``."""
        now = time.monotonic()
        if self.id is None or (not force and now - self.last < MIN_INTERVAL):
            return
        self.last = now
        from prefect.artifacts import update_progress_artifact

        with contextlib.suppress(Exception):
            update_progress_artifact(self.id, progress=max(0.0, min(100.0, percent)))

    def table(self, name: str, rows: list[dict[str, Any]], description: str) -> None:
        """Publish ``rows`` as a table artifact keyed ``<step>-<name>``."""
        from prefect.artifacts import create_table_artifact

        with contextlib.suppress(Exception):
            create_table_artifact(key=_key(self.step, name), table=rows, description=description)
