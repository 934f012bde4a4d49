"""A FIFO or a device as a path input is refused at once: it has no content and may never end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headrace.engine.fingerprint.files import fingerprint_path


def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is not a regular file or folder"):
        fingerprint_path(fifo)  # before the fix: blocks forever opening the FIFO


def test_dev_zero_is_refused_not_read() -> None:
    with pytest.raises(ValueError, match="is not a regular file or folder"):
        fingerprint_path("/dev/zero")  # before the fix: reads forever


def test_special_files_inside_a_folder_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    before = fingerprint_path(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    assert fingerprint_path(tmp_path) == before
