"""The attempts a run waits for (InFlight), and the Dispatcher that sends steps ahead (eager.py).

An eager executor (Dask) accepts a step before its upstream steps have finished, with their
attempts as dependencies. The Dispatcher decides which steps go ahead and on which attempts,
keeps them until the runner adopts them (their upstream steps succeeded) and says what to give
up when an attempt they were built on fails or the run stops. It does no I/O: the runner builds
and sends what it is asked to, and discards what it is told.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..status import Status
from .state import RunState

if TYPE_CHECKING:
    from .eager import EagerPlan
    from .reuse import Decision
    from .task import StepResult


@dataclass(slots=True)
class InFlight:
    """One step attempt the run waits for: handed to the executor, or sent ahead of its upstream.

    Attributes:
        step: the step name.
        attempt: 1 for the first try, 2 for the first retry, ...
        future: the executor's future for the attempt's result.
        timeout: the component's timeout in seconds (None: no limit).
        submitted: when it was handed over (a step sent ahead: when sent, then when adopted).
        started_at: when the step went running, as run history records it (kept by retries).
        plan: what it was sent ahead with; None when it was sent once ready.
        decision: the runner's reuse decision, once the step is launched.
    """

    step: str
    attempt: int
    future: Future[StepResult]
    timeout: float | None
    submitted: float
    started_at: float
    plan: EagerPlan | None = None
    decision: Decision | None = None


Send = Callable[[str, tuple[str, ...]], InFlight]


class Dispatcher:
    """Which steps go ahead of their upstream results, and what was sent ahead on what.

    A step goes ahead when it has not started and every upstream step that has not completed
    is in flight: running (an attempt the runner waits for) or itself sent ahead. So a chain
    goes out whole as soon as its first step runs.

    Args:
        state: the run's state (statuses, dependants, whether the run stopped).
        upstream: step name → the steps it waits for.
    """

    def __init__(self, state: RunState, upstream: Mapping[str, Sequence[str]]):
        self.state = state
        self.upstream = upstream
        self.ahead: dict[str, InFlight] = {}  # sent ahead, not adopted yet
        self._moved: list[str] = []

    def moved(self, step: str) -> None:
        """``step`` went in flight, or completed from the cache: its dependants may go ahead."""
        self._moved.append(step)

    def in_flight(self, step: str) -> bool:
        """Whether ``step`` has an attempt running or sent ahead."""
        return step in self.ahead or self.state.status[step] is Status.RUNNING

    def send_ahead(self, send: Send) -> list[str]:
        """Send what may go ahead since the steps that moved; ``send(step, after)`` sends one.

        Args:
            send: sends ``step`` to run after the in-flight attempts of ``after`` (its upstream
                steps not completed, in upstream order) and returns its attempt.

        Returns:
            The steps sent, in the order sent.
        """
        queue = deque(self._moved)
        self._moved.clear()
        status, ahead, sent = self.state.status, self.ahead, []
        while queue and not self.state.stopped:
            for d in self.state.down[queue.popleft()]:
                if d in ahead or status[d] is not Status.NOT_STARTED:
                    continue
                ups = dict.fromkeys(self.upstream[d])
                after = tuple(u for u in ups if status[u] is not Status.COMPLETED)
                if after and all(u in ahead or status[u] is Status.RUNNING for u in after):
                    ahead[d] = send(d, after)
                    sent.append(d)
                    queue.append(d)
        return sent

    def adopt(self, step: str) -> InFlight | None:
        """Hand over the attempt of ``step`` sent ahead, now that it is ready (None: none)."""
        return self.ahead.pop(step, None)

    def drop(self, step: str) -> list[InFlight]:
        """Give up what was sent ahead on ``step``'s attempt, and what was sent ahead on those.

        Returns:
            The attempts given up, for the executor to discard.
        """
        if not self.ahead:
            return []
        out, stack = [], [step]
        while stack:
            for d in self.state.down[stack.pop()]:
                flight = self.ahead.pop(d, None)
                if flight is not None:
                    out.append(flight)
                    stack.append(d)
        return out

    def drop_all(self) -> list[InFlight]:
        """Give up every attempt sent ahead (the run stopped); returns them in the order sent."""
        out = list(self.ahead.values())
        self.ahead.clear()
        return out
