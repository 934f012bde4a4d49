"""Fixtures for the fingerprint tests: small trees of files written on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.trees import write_tree


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "data", {"a.csv": b"1,2\n", "sub/b.bin": b"\x00\x01"})
