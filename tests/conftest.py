"""Shared fixtures: every test gets its own workspace and never touches ./.headrace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headrace.engine import Workspace

pytest_plugins = ["tests.prefect_fixture"]

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "home-workspace"))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A fresh workspace in a temporary folder."""
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    workspace.close()
