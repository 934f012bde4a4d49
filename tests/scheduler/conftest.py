"""Shared fixtures: a workspace, the test pipelines file, a fake clock and launcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.scheduler.store import Firing

PIPELINES = Path(__file__).with_name("pipelines_for_tests.py")


class Clock:
    """A controllable clock for time schedules."""

    def __init__(self, start: datetime):
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> datetime:
        self.t += timedelta(**kw)
        return self.t


class FakeChild:
    """A run that ends when the test says so."""

    def __init__(self) -> None:
        self.code: int | None = None
        self.interrupted = False

    def poll(self) -> int | None:
        return self.code

    def interrupt(self) -> None:
        self.interrupted = True
        self.code = 130

    def kill(self) -> None:
        self.code = -9

    def wait(self, timeout: float | None = None) -> int | None:
        return self.code


class FakeLauncher:
    """Records started firings instead of starting processes."""

    def __init__(self) -> None:
        self.started: list[Firing] = []
        self.children: dict[str, FakeChild] = {}

    def start(self, firing: Firing, pipeline: str, workspace: Path) -> FakeChild:
        self.started.append(firing)
        self.children[firing.run_id] = FakeChild()
        return self.children[firing.run_id]

    def finish_all(self, code: int = 0) -> None:
        for child in self.children.values():
            if child.code is None:
                child.code = code

    @property
    def run_ids(self) -> list[str]:
        return [f.run_id for f in self.started]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))


@pytest.fixture
def launcher() -> FakeLauncher:
    return FakeLauncher()
