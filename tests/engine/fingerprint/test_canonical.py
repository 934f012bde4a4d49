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
import numpy as np
import pandas as pd
from headrace.engine.store.artifacts import ArtifactStore
from headrace.engine.fingerprint.tables import fingerprint_object
from headrace.engine.types import OBJECT
words = [f"tag-{i}" for i in range(50)]
values = [
    {"tags": set(words), "ids": frozenset({"x", "y", "z", 3, 1.5})},
    {frozenset({w}) for w in words},  # frozensets: their < is the subset order
    {("a", frozenset(words[:9])), ("b", frozenset(words[9:]))},
    pd.DataFrame({"tags": [set(words), set(words[:5])], "n": [1, 2]}),  # an object column
    np.array([set(words), {"a", "b", "c"}], dtype=object),
]
store = ArtifactStore(sys.argv[1])
print([(store.write(v, OBJECT).fingerprint, fingerprint_object(v)) for v in values])
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


def test_object_arrays_and_frames_load_back_equal(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"tags": [{"b", "a"}, {"c"}], "n": [1, 2], "f": [0.5, 1.5]})
    grid = np.array([[{"x"}, None], [(1, 2), "s"]], dtype=object)
    dump_object({"frame": frame, "grid": grid}, str(tmp_path / "o.joblib"))
    back = joblib.load(tmp_path / "o.joblib")
    assert back["frame"].equals(frame) and back["frame"].dtypes.equals(frame.dtypes)
    assert back["grid"].shape == (2, 2) and back["grid"].tolist() == grid.tolist()
