"""Peak memory of loading a stored table, against pandas writing the same table (issue 11, #24).

Each measurement runs in a fresh process and reports its peak RSS (sampled every 2 ms) above
what the process held before (imports done), divided by the frame's size:

- ``pandas write``: ``DataFrame.to_parquet`` of the frame (the baseline the issue names),
  counted with the frame it holds (1x) so that all three are peaks of the whole process;
- ``to_pandas``: ``pq.read_table(...).to_pandas()``, what headrace did before;
- ``headrace load``: ``ArtifactStore.load`` of the stored artifact (arrow buffers handed to
  pandas column by column, ``self_destruct=True``).

Run: ``python benchmarks/table_memory.py [--rows 25000000]`` (4 columns of 8 bytes: 800 MB).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, threading, time
import psutil
_proc, _peak, _stop = psutil.Process(), [0], threading.Event()
def _sample():
    while not _stop.is_set():
        _peak[0] = max(_peak[0], _proc.memory_info().rss)
        time.sleep(0.002)
from pathlib import Path
import numpy as np, pandas as pd, pyarrow.parquet as pq
from headrace.engine.store.artifacts import ArtifactStore
from headrace.engine.store.integrity import address
mode, folder, rows = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = ArtifactStore(str(folder / "store"))
if mode == "pandas write":
    df = pd.DataFrame({c: np.arange(rows, dtype="float64") for c in "abcd"})
    size = df.memory_usage().sum()
    base = _proc.memory_info().rss
    threading.Thread(target=_sample, daemon=True).start()
    df.to_parquet(folder / "w.parquet", engine="pyarrow")
else:
    import json
    rec = json.loads((folder / "record.json").read_text())
    from headrace.engine.store.artifacts import ArtifactRecord
    record = ArtifactRecord(**rec)
    base = _proc.memory_info().rss
    threading.Thread(target=_sample, daemon=True).start()
    if mode == "to_pandas":
        df = pq.read_table(store.local_path(record), memory_map=True).to_pandas()
    else:
        df = store.load(record)
    size = df.memory_usage().sum()
time.sleep(0.05)
_stop.set()
print((_peak[0] - base) / size)
"""

SETUP = r"""
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
from headrace.engine.store.artifacts import ArtifactStore
from headrace.engine.types import TABLE
folder, rows = Path(sys.argv[1]), int(sys.argv[2])
store = ArtifactStore(str(folder / "store"))
df = pd.DataFrame({c: np.arange(rows, dtype="float64") for c in "abcd"})
rec = store.write(df, TABLE, pd.DataFrame)
import dataclasses
(folder / "record.json").write_text(json.dumps(dataclasses.asdict(rec)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", SETUP, tmp, str(args.rows)], check=True)
        results = {}
        for mode in ("pandas write", "to_pandas", "headrace load"):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, mode, tmp, str(args.rows)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[mode] = float(out.strip().splitlines()[-1])
    results["pandas write"] += 1.0  # the frame it writes is held throughout
    size_mb = args.rows * 4 * 8 / 1e6
    print(f"table of {args.rows:,} rows x 4 float64 columns ({size_mb:,.0f} MB in memory)")
    for mode, ratio in results.items():
        print(f"  {mode:<14} peak {ratio:.2f}x the frame")
    print(
        f"headrace load / to_pandas (before): {results['headrace load'] / results['to_pandas']:.2f}"
    )
    print(f"headrace load / pandas write: {results['headrace load'] / results['pandas write']:.2f}")


if __name__ == "__main__":
    main()
