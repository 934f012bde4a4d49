"""The run's pure state machine: ready steps, attempts, retries, deadlines, what a failure skips."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import KeysView, Mapping, Sequence

from ..status import Status


class RunState:
    """Tracks step statuses, attempts and their deadlines through a run; no I/O, no clock reads.

    Times are passed in by the caller; an attempt's timeout counts from when it started running.

    Args:
        upstream: step name → the steps it waits for, in a topological order.
        continue_on_step_failure: when False, a failure stops every step not yet started;
            when True, only the failed step's dependants are skipped.
        retries: step name → how many times a failed attempt is tried again (default 0).
        timeouts: step name → seconds an attempt may run (missing or None: no limit).
    """

    def __init__(
        self,
        upstream: Mapping[str, Sequence[str]],
        continue_on_step_failure: bool = False,
        *,
        retries: Mapping[str, int] | None = None,
        timeouts: Mapping[str, float | None] | None = None,
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
        self._attempts: dict[str, int] = dict.fromkeys(upstream, 0)
        self._retries = dict(retries or {})
        self._timeouts = {s: t for s, t in (timeouts or {}).items() if t is not None}
        # Timed attempts in flight: step → its launch order; those whose start is not known
        # yet; and a heap of (deadline, launch order, step) where stale entries are skipped.
        self._clocks: dict[str, int] = {}
        self._unstarted: dict[str, None] = {}
        self._deadlines: list[tuple[float, int, str]] = []
        self._order = 0

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
        """The step is Running (without counting an attempt: :meth:`launch` does both)."""
        self.status[step] = Status.RUNNING

    def attempt(self, step: str) -> int:
        """The number of the step's latest attempt (0 before its first, 2 for its first retry)."""
        return self._attempts[step]

    def launch(self, step: str, started: float | None = None) -> int:
        """An attempt of ``step`` was handed over: it is Running, in flight, and numbered.

        Args:
            step: the step.
            started: when the attempt started running, if known now; otherwise say it with
                :meth:`attempt_started` (its timeout counts from then).

        Returns:
            The attempt's number: 1, then 2 for the first retry, ...
        """
        self.status[step] = Status.RUNNING
        n = self._attempts[step] = self._attempts[step] + 1
        timeout = self._timeouts.get(step)
        if timeout is not None:
            self._order += 1
            self._clocks[step] = self._order  # a previous attempt's deadline is stale now
            self._unstarted[step] = None
            if started is not None:
                self.attempt_started(step, started)
        return n

    def attempt_started(self, step: str, at: float) -> None:
        """The step's attempt in flight started running at ``at``: its timeout counts from then."""
        if step in self._unstarted:
            del self._unstarted[step]
            deadline = at + self._timeouts[step]
            heapq.heappush(self._deadlines, (deadline, self._clocks[step], step))

    @property
    def timing(self) -> bool:
        """Whether some attempt in flight has a timeout."""
        return bool(self._clocks)

    @property
    def awaiting_start(self) -> KeysView[str]:
        """Steps whose attempt in flight has a timeout but no known start yet."""
        return self._unstarted.keys()

    def next_deadline(self, now: float) -> float | None:
        """Seconds from ``now`` until the earliest deadline of a started attempt (0 when past).

        Returns:
            The wait, or None when no started attempt in flight has a timeout.
        """
        heap = self._deadlines
        while heap and not self._current(heap[0]):
            heapq.heappop(heap)
        return max(0.0, heap[0][0] - now) if heap else None

    def expired(self, now: float) -> list[str]:
        """Steps whose attempt in flight ran past its deadline by ``now``, in launch order.

        Their clocks stop; the caller fails (or retries) each attempt.
        """
        heap = self._deadlines
        if not heap or heap[0][0] > now:
            return []
        out = []
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            if self._current(entry):
                out.append(entry)
                del self._clocks[entry[2]]
        if len(out) > 1:
            out.sort(key=lambda e: e[1])
        return [step for _, _, step in out]

    def attempt_failed(self, step: str) -> bool:
        """The step's attempt in flight failed; whether it is retried.

        Returns:
            True when retries are left and the run goes on: launch the next attempt.
            False when the step fails for good: call :meth:`fail`.
        """
        if self._clocks:
            self._stop_clock(step)
        return not self.stopped and self._attempts[step] <= self._retries.get(step, 0)

    def complete(self, step: str) -> None:
        """The step finished (ran or reused); its dependants may become ready."""
        if self._clocks:
            self._stop_clock(step)
        self.status[step] = Status.COMPLETED
        for d in self.down[step]:
            self._waiting[d] -= 1
            if self._waiting[d] == 0 and self.status[d] is Status.NOT_STARTED:
                self._ready.append(d)

    def fail(self, step: str) -> list[str]:
        """The step failed for good; returns the steps this skips (dependants, or all not started)."""
        if self._clocks:
            self._stop_clock(step)
        self.status[step] = Status.FAILED
        skipped = self._skip(self._descendants(step))
        if not self.continue_on_step_failure:
            self.stopped = True
            skipped += self._skip([s for s, st in self.status.items() if st is Status.NOT_STARTED])
        return skipped

    def cancel(self) -> list[str]:
        """Stop the run: every step not finished becomes Canceled; returns them."""
        self.stopped = True
        self._clocks.clear()
        self._unstarted.clear()
        self._deadlines.clear()
        out = [s for s, st in self.status.items() if not st.is_final]
        for s in out:
            self.status[s] = Status.CANCELED
        return out

    def _stop_clock(self, step: str) -> None:
        if self._clocks.pop(step, None) is not None:
            self._unstarted.pop(step, None)

    def _current(self, entry: tuple[float, int, str]) -> bool:
        """Whether a heap entry is the deadline of the attempt in flight (not a stale one)."""
        return self._clocks.get(entry[2]) == entry[1]

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
