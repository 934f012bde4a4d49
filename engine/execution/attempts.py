"""Each step attempt's record and log: a live spool file while it runs, a history row after."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ..store.spools import LOGS_DIR, remove_run_folder, safe_name, tail
from .capture import LOG_LIMIT
from .task import StepResult


class AttemptRecorder:
    """Names the spool file of each attempt and turns finished attempts into history rows.

    Args:
        workspace: the workspace folder (attempts on this machine spool under it).
        run_id: the run.
    """

    def __init__(self, workspace: Path, run_id: str):
        self.workspace = Path(workspace)
        self.run_id = run_id
        self.folder = self.workspace / LOGS_DIR / run_id
        self._names: dict[str, str] = {}
        self._stem = f"{self.folder}{os.sep}"  # spool_path's folder, as a string
        with contextlib.suppress(OSError):  # no spool (no --follow) rather than no run
            self.folder.mkdir(parents=True, exist_ok=True)

    def spool(self, step: str, attempt: int) -> str:
        """The spool file of ``step``'s attempt ``attempt``."""
        name = self._names.get(step)
        if name is None:  # strings only: this runs once per attempt
            name = self._names[step] = f"{self._stem}{safe_name(step)}."
        return f"{name}{attempt}.log"

    def record(self, result: StepResult) -> tuple[Any, ...]:
        """The arguments of ``record_attempt_op`` for a finished attempt; drops its spool.

        An attempt whose worker died returns no log: what it spooled before is kept instead.
        """
        path = self.spool(result.step, result.attempt)
        logs, chars = result.logs, result.log_chars
        if not logs and not result.ok:  # a worker that died spooled what it printed
            logs, chars = tail(Path(path), LOG_LIMIT)
        if logs:  # an attempt that printed nothing never made a spool file
            with contextlib.suppress(OSError):
                os.unlink(path)
        error = f"{result.error_type}: {result.error}" if not result.ok else None
        times = (result.started_at, result.finished_at)
        return (self.run_id, result.step, result.attempt, result.ok, times, error, logs, chars)

    def close(self) -> None:
        """Remove the run's spool folder once no attempt spools there."""
        remove_run_folder(self.workspace, self.run_id)
