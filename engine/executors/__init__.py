"""Executors: where step attempts run (local threads/processes, Dask, Prefect)."""

from __future__ import annotations

from typing import Any

from ..errors import HeadraceError, did_you_mean
from .base import Executor, RunInfo

EXECUTORS = ("local", "local-processes")


def make_executor(name: str | Executor, max_workers: int | None = None, **options: Any) -> Executor:
    """The executor called ``name`` (or ``name`` itself when it already is one).

    Args:
        name: "local" (threads) or "local-processes"; an Executor instance is returned as is.
        max_workers: concurrent steps.
        options: executor-specific options.

    Raises:
        HeadraceError: unknown executor name.
    """
    if not isinstance(name, str):
        return name
    if name in ("local", "local-processes"):
        from .local import LocalExecutor

        return LocalExecutor(max_workers, processes=name == "local-processes")
    raise HeadraceError(
        f"unknown executor {name!r}.{did_you_mean(name, EXECUTORS)} Choose one of: {', '.join(EXECUTORS)}"
    )


__all__ = ["Executor", "RunInfo", "make_executor", "EXECUTORS"]
