"""Fixtures for the fingerprint tests: small trees of files written on demand."""

from __future__ import annotations

import importlib
import linecache
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.engine.trees import write_tree


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "data", {"a.csv": b"1,2\n", "sub/b.bin": b"\x00\x01"})


@pytest.fixture
def user_modules(tmp_path: Path, monkeypatch):
    """Writes modules into tmp_path and (re)imports them; returns write(name, source)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    prefix = f"hr_{uuid.uuid4().hex[:8]}_"
    loaded: list[str] = []

    def write(name: str, source: str):
        full = prefix + name
        (tmp_path / f"{full}.py").write_text(textwrap.dedent(source).replace("PFX_", prefix))
        linecache.clearcache()
        importlib.invalidate_caches()
        if full in sys.modules:
            return importlib.reload(sys.modules[full])
        loaded.append(full)
        return importlib.import_module(full)

    yield write
    for name in loaded:
        sys.modules.pop(name, None)


@pytest.fixture
def module_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A user module ``K = {1, 2}`` on sys.path, not imported yet: (its name, its file)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    name = f"ld_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text("K = {1, 2}\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    importlib.invalidate_caches()
    yield name, path
    sys.modules.pop(name, None)
