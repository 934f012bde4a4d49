"""Writing small trees of files for tests."""

from __future__ import annotations

from pathlib import Path


def write_tree(root: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> Path:
    for name in dirs:
        (root / name).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root
