"""The one status vocabulary shared by runs, steps, the CLI, executors and the scheduler."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Run and step statuses (Azure ML's words).

    A run ends Completed, Failed or Canceled; a step may also end Skipped, when an upstream
    step failed or the run stopped before it started.
    """

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    CANCELED = "Canceled"

    @property
    def is_final(self) -> bool:
        """Whether nothing will change this status again."""
        return self in _FINAL


_FINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.SKIPPED, Status.CANCELED})
