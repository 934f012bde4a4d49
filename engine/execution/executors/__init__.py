"""Executors: where step attempts run (local threads/processes, Dask, Prefect)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ...errors import HeadraceError, did_you_mean
from ...status import Status
from .base import Executor, RunInfo

if TYPE_CHECKING:
    from ...store.workspace import Workspace
    from ..task import StepResult

EXECUTORS = ("local", "local-processes", "dask", "prefect")


def make_executor(name: str | Executor, max_workers: int | None = None, **options: Any) -> Executor:
    """The executor called ``name`` (or ``name`` itself when it already is one).

    Args:
        name: "local" (threads), "local-processes", "dask" or "prefect"; an Executor instance
            is returned as is.
        max_workers: concurrent steps.
        options: executor-specific options (None values are ignored): for "dask",
            ``dask_address`` (or ``address``) and ``client``; for "prefect", ``task_runner``
            ("threads" or "dask"), ``dask_address`` and ``workspace``.

    Raises:
        HeadraceError: unknown executor name.
    """
    if not isinstance(name, str):
        return name
    if name in ("local", "local-processes"):
        from .local import LocalExecutor

        return LocalExecutor(max_workers, processes=name == "local-processes")
    opts = {k: v for k, v in options.items() if v is not None}
    if name == "dask":  # prefect and dask are imported only when used (DESIGN §1)
        from .dask import DaskExecutor

        address = opts.pop("dask_address", None) or opts.pop("address", None)
        return DaskExecutor(address, **opts)
    if name == "prefect":
        from .prefect.executor import PrefectExecutor

        return PrefectExecutor(max_workers, **opts)
    raise HeadraceError(
        f"unknown executor {name!r}.{did_you_mean(name, EXECUTORS)} Choose one of: {', '.join(EXECUTORS)}"
    )


class Observer(Protocol):
    """Sees a run's step events as they happen (the runner calls it; it must never raise)."""

    def event(
        self, step: str, status: Status, info: dict[str, Any], result: StepResult | None = None
    ) -> None: ...

    def close(self, status: Status, error: str | None = None) -> None: ...


class _Unobserved:
    def event(
        self, step: str, status: Status, info: dict[str, Any], result: StepResult | None = None
    ) -> None:
        pass

    def close(self, status: Status, error: str | None = None) -> None:
        pass


def make_observer(executor: Executor, run: RunInfo, ws: Workspace) -> Observer:
    """The observer mirroring ``run`` to a Prefect server when one answers, else one doing nothing.

    Runs on the prefect executor are flow runs already and are not mirrored. Prefect is
    imported only when a server answers (see prefect/mirror.py).
    """
    if executor.name == "prefect":
        return _Unobserved()
    from .prefect.mirror import mirror  # no prefect import until a server answers

    return mirror(run, ws) or _Unobserved()


__all__ = ["Executor", "RunInfo", "make_executor", "make_observer", "Observer", "EXECUTORS"]
