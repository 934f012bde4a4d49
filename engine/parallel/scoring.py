"""Scoring the planned mini-batches on a pool: attempts, retries, the tally and the thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..errors import ParallelRunError
from ..status import Status
from .batches import MAX_ERRORS, Batch, Tally, breach, describe_items
from .config import Knobs, ParallelSpec
from .pool import Spares
from .progress import Progress
from .worker import Outcome, Setup, Task


class Scoring:
    """One step's scoring: what each mini-batch did, and whether the step may go on.

    Args:
        spec: the step.
        knobs: its knobs for this run.
        setup: what workers start with.
        plan: every mini-batch, reused ones included.
        names: the key value of every item (file names or row numbers), by position.
        progress: where progress is shown.
        spares: local workers started already (None on a Dask worker).
    """

    def __init__(
        self,
        spec: ParallelSpec,
        knobs: Knobs,
        setup: Setup,
        plan: Sequence[Batch],
        names: Sequence[Any],
        progress: Progress,
        spares: Spares | None = None,
    ):
        self.spec, self.knobs, self.setup, self.names = spec, knobs, setup, names
        self.plan = {b.id: b for b in plan}
        self.tally = Tally(items=len(names), batches=len(plan))
        self.progress = progress
        self.spares = spares
        self.status: dict[int, str] = {}
        self.keys: dict[int, str] = {}
        self.attempts: dict[int, int] = {}
        self.durations: dict[int, float] = {}
        self.workers: dict[int, str] = {}
        self.errors: dict[int, str] = {}
        self.failed_items: dict[int, int] = {}
        self.rows: dict[int, Any] = {}  # this run's result rows by mini-batch
        self.partial_dirs: dict[int, str] = {}
        self.entry_metrics: list[tuple[str, Any, float]] = []
        self.reused = self.scored_items = 0
        self.tasks: dict[int, Task] = {}
        self.first_traceback = ""
        for b in plan:
            if b.reused_from:
                self.status[b.id], self.keys[b.id] = "reused", b.reused_from
                self.reused += 1
                progress.advance(b.size, 0, scored=False)

    def run(self, tasks: Sequence[Task]) -> None:
        """Score ``tasks`` (one per mini-batch without a committed result).

        Raises:
            ParallelRunError: a threshold was passed, or the entry's init() failed.
        """
        if tasks:
            from .pools import make_pool

            self.tasks = {t.batch: t for t in tasks}
            timeout = float(self.knobs.run_invocation_timeout)
            size = min(self.knobs.workers(), len(tasks))
            limit = self.knobs.max_concurrency
            limit = None if limit is None else int(limit)
            with make_pool(self.setup, size, timeout, self.spec.where, self.spares, limit) as pool:
                for t in tasks:
                    pool.submit(t)
                for outcome in pool.outcomes():
                    if outcome is None:
                        self.progress.show()
                    elif self._handle(outcome):
                        pool.submit(self._retry(outcome), first=True)
        elif self.spares is not None:  # every mini-batch was committed: no worker is needed
            self.spares.close()
        self.progress.close()
        self._check(final=True)

    def _retry(self, outcome: Outcome) -> Task:
        task = replace(self.tasks[outcome.batch], attempt=outcome.attempt + 1)
        self.tasks[outcome.batch] = task
        return task

    def _handle(self, o: Outcome) -> bool:
        """Record an outcome; True when the mini-batch gets another attempt."""
        b = self.plan[o.batch]
        self.attempts[o.batch] = o.attempt
        self.durations[o.batch] = self.durations.get(o.batch, 0.0) + o.duration
        self.workers[o.batch] = o.worker
        self.entry_metrics += o.metrics
        if o.key:
            self.keys[o.batch] = o.key
        if o.status == "failed" and o.attempt < self.knobs.run_max_try:
            return True
        self.status[o.batch] = o.status
        if o.rows is not None and o.status in ("ok", "partial"):
            self.rows[o.batch] = o.rows
        failed = 0
        if o.status == "reused":
            self.reused += 1
        elif o.status == "failed":
            failed = b.size
            self.tally.batches_failed += 1
            self._error(b, o, b.size, f"attempt {o.attempt}: {o.error}")
        elif o.status == "partial":  # a failed mini-batch too, whose other rows are kept
            failed = len(o.failed)
            self.tally.batches_failed += 1
            if o.out_dir:
                self.partial_dirs[o.batch] = o.out_dir
            how = (
                ""
                if o.named
                else " (run() returned fewer elements than items and no key column, so which "
                "ones failed is not known; return a DataFrame with the key column to name them)"
            )
            self._error(
                b, o, failed, f"{failed} of {b.size} items returned no result{how}", o.failed
            )
        if o.status != "reused":
            self.scored_items += b.size
        self.tally.items_failed += failed
        self.failed_items[o.batch] = failed
        self.progress.advance(b.size, failed, scored=o.status != "reused")
        self._check(final=False)
        return False

    def _error(
        self, b: Batch, o: Outcome, count: int, text: str, positions: Sequence[int] = ()
    ) -> None:
        self.errors[o.batch] = text
        if o.traceback and not self.first_traceback:
            self.first_traceback = o.traceback
        if len(self.tally.errors) < MAX_ERRORS:
            names = [str(self.names[self._position(b, p)]) for p in (positions or range(b.size))]
            self.tally.errors.append(f"mini-batch {b.id} (items {describe_items(names)}): {text}")

    @staticmethod
    def _position(b: Batch, p: int) -> int:
        return b.positions[p] if b.positions else b.start + p

    def _check(self, final: bool) -> None:
        message = breach(self.tally, self.knobs, final)
        if message is None:
            return
        if self.first_traceback:
            message += f"\nthe first error's traceback:\n{self.first_traceback}"
        raise ParallelRunError(f"{self.spec.where}: {message}")

    def report(self) -> list[dict[str, Any]]:
        """One row per mini-batch: id, items, items_failed, status, attempts, duration, worker,
        error, reused."""
        rows = []
        for bid, b in sorted(self.plan.items()):
            state = self.status.get(bid)
            status = {
                "ok": Status.COMPLETED,
                "partial": Status.COMPLETED,
                "reused": Status.COMPLETED,
                "failed": Status.FAILED,
            }.get(state or "", Status.CANCELED if self.attempts.get(bid) else Status.NOT_STARTED)
            rows.append(
                {
                    "id": bid,
                    "items": b.size,
                    "items_failed": self.failed_items.get(bid, 0),
                    "status": status.value,
                    "attempts": self.attempts.get(bid, 0),
                    "duration": round(self.durations.get(bid, 0.0), 4),
                    "worker": self.workers.get(bid, ""),
                    "error": self.errors.get(bid, ""),
                    "reused": state == "reused",
                }
            )
        return rows
