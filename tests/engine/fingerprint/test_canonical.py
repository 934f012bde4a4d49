"""Objects holding sets get the same fingerprint and the same stored address in every process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import joblib

from headrace.engine.fingerprint.canonical import dump_object

SCRIPT = """
import sys
from headrace.engine.store.artifacts import ArtifactStore
from headrace.engine.fingerprint.tables import fingerprint_object
from headrace.engine.types import OBJECT
value = {"tags": {f"tag-{i}" for i in range(50)}, "ids": frozenset({"x", "y", "z", 3, 1.5})}
record = ArtifactStore(sys.argv[1]).write(value, OBJECT)
print(record.fingerprint, fingerprint_object(value))
"""


def _run(store: Path, seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(store)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_set_order_does_not_depend_on_the_process(tmp_path: Path) -> None:
    seen = {_run(tmp_path / "store", seed) for seed in ("1", "2", "3", "4")}
    assert len(seen) == 1, seen


def test_canonical_pickles_load_back_equal(tmp_path: Path) -> None:
    value = {"s": {"b", "a"}, "f": frozenset({2, 1}), "mixed": {1, "a", (2, 3)}}
    dump_object(value, str(tmp_path / "o.joblib"))
    assert joblib.load(tmp_path / "o.joblib") == value
