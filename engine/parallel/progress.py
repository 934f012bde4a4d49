"""The live progress of a parallel-run step: items done, items/s, failures and ETA.

``headrace run``'s live view shows it beside the running step (it reads :func:`live_line`);
without one, a step on a terminal draws its own progress line on stderr.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

_LINES: dict[str, str] = {}  # step name → its progress text, while it runs in this process
_VIEWED = [0.0]  # when a live view last read a line (then steps draw nothing themselves)


def live_line(step: str) -> str:
    """The progress text of ``step`` if it is a parallel-run step running in this process."""
    _VIEWED[0] = time.monotonic()
    return _LINES.get(step, "")


class Progress:
    """Tracks ``1,200/5,000 items  830/s  3 failed  ETA 4s`` for a step.

    Args:
        step: the step name.
        total: items in the input.
        stream: where to draw when no live view shows it (default the process's real stderr,
            which step log capture leaves alone; nothing is drawn unless it is a terminal).
        reporter: also sends the percentage done there (``progress(percent, force)``).
    """

    def __init__(self, step: str, total: int, stream: TextIO | None = None, reporter: Any = None):
        self.step, self.total = step, total
        self.reporter = reporter  # a Prefect task run's progress artifact, when there is one
        self.stream = stream if stream is not None else (sys.__stderr__ or sys.stderr)
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = self.failed = self.scored = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False
        _LINES[step] = self.line()

    def advance(self, items: int, failed: int, scored: bool = True) -> None:
        """Count finished items (``failed`` of them without a result)."""
        self.done += items
        self.failed += failed
        if scored:
            self.scored += items
        self.show()

    def line(self) -> str:
        """The progress text."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.scored / elapsed
        left = self.total - self.done
        eta = f"ETA {left / rate:,.0f}s" if rate > 0 and left > 0 else ""
        return (
            f"{self.done:,}/{self.total:,} items  {rate:,.0f}/s  {self.failed:,} failed  {eta}"
        ).rstrip()

    def show(self) -> None:
        """Update the text (and redraw the line, at most five times a second)."""
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        _LINES[self.step] = text = self.line()
        if self.reporter is not None:
            self.reporter.progress(100.0 * self.done / max(self.total, 1))
        if self.terminal and now - _VIEWED[0] > 1.0:
            self.stream.write(f"\r\x1b[2K{self.step}: {text}")
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        """End the line."""
        _LINES.pop(self.step, None)
        if self.reporter is not None:
            self.reporter.progress(100.0 * self.done / max(self.total, 1), force=True)
        if self._drawn:
            self._last = 0.0
            self.stream.write(f"\r\x1b[2K{self.step}: {self.line()}\n")
            self.stream.flush()
