"""The run's pure state machine: which steps are ready, and what a failure skips."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from ..status import Status


class RunState:
    """Tracks step statuses through a run; no I/O, no clocks, no executors.

    Args:
        upstream: step name → the steps it waits for, in a topological order.
        continue_on_step_failure: when False, a failure stops every step not yet started;
            when True, only the failed step's dependants are skipped.
    """

    def __init__(
        self, upstream: Mapping[str, Sequence[str]], continue_on_step_failure: bool = False
    ):
        self.status: dict[str, Status] = dict.fromkeys(upstream, Status.NOT_STARTED)
        self.continue_on_step_failure = continue_on_step_failure
        self._waiting = {s: len(set(u)) for s, u in upstream.items()}
        self.down: dict[str, list[str]] = {s: [] for s in upstream}  # step → its dependants
        for s, ups in upstream.items():
            for u in dict.fromkeys(ups):
                self.down[u].append(s)
        self._ready: deque[str] = deque(s for s, n in self._waiting.items() if n == 0)
        self.stopped = False

    def take_ready(self) -> list[str]:
        """Steps that may start now (each returned once); marks them Queued."""
        if self.stopped:
            return []
        out = []
        while self._ready:
            s = self._ready.popleft()
            if self.status[s] is Status.NOT_STARTED:
                self.status[s] = Status.QUEUED
                out.append(s)
        return out

    def mark_running(self, step: str) -> None:
        """The step's attempt started."""
        self.status[step] = Status.RUNNING

    def complete(self, step: str) -> None:
        """The step finished (ran or reused); its dependants may become ready."""
        self.status[step] = Status.COMPLETED
        for d in self.down[step]:
            self._waiting[d] -= 1
            if self._waiting[d] == 0 and self.status[d] is Status.NOT_STARTED:
                self._ready.append(d)

    def fail(self, step: str) -> list[str]:
        """The step failed for good; returns the steps this skips (dependants, or all not started)."""
        self.status[step] = Status.FAILED
        skipped = self._skip(self._descendants(step))
        if not self.continue_on_step_failure:
            self.stopped = True
            skipped += self._skip([s for s, st in self.status.items() if st is Status.NOT_STARTED])
        return skipped

    def cancel(self) -> list[str]:
        """Stop the run: every step not finished becomes Canceled; returns them."""
        self.stopped = True
        out = [s for s, st in self.status.items() if not st.is_final]
        for s in out:
            self.status[s] = Status.CANCELED
        return out

    def _descendants(self, step: str) -> list[str]:
        seen: dict[str, None] = {}
        stack = list(self.down[step])
        while stack:
            s = stack.pop()
            if s not in seen:
                seen[s] = None
                stack.extend(self.down[s])
        return list(seen)

    def _skip(self, steps: Sequence[str]) -> list[str]:
        out = []
        for s in steps:
            if self.status[s] in (Status.NOT_STARTED, Status.QUEUED):
                self.status[s] = Status.SKIPPED
                out.append(s)
        return out

    @property
    def done(self) -> bool:
        """Whether no step can change any more."""
        return all(st.is_final for st in self.status.values())

    def run_status(self) -> Status:
        """The run's final status from its steps' statuses."""
        values = set(self.status.values())
        if Status.CANCELED in values:
            return Status.CANCELED
        if Status.FAILED in values:
            return Status.FAILED
        if values <= {Status.COMPLETED}:
            return Status.COMPLETED
        return Status.RUNNING
