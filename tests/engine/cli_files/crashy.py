"""A pipeline whose second step writes a large output slowly (crash-safety tests)."""

import os
import time
from pathlib import Path

import pandas as pd

from headrace.engine import component, get_run_context, pipeline


@component
def small(n: int = 1000) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n)})


@component
def big(df: pd.DataFrame, chunks: int = 40) -> Path:
    out = get_run_context().output_dir / "big.bin"
    sentinel = os.environ.get("CRASHY_SENTINEL")
    with open(out, "wb") as f:
        for i in range(chunks):
            f.write(os.urandom(1 << 20))
            f.flush()
            if sentinel and i == chunks // 2:
                Path(sentinel).write_text("half written")
                time.sleep(30)  # the test kills us here
    return out


@component
def size(blob: Path) -> int:
    return blob.stat().st_size


@pipeline
def crashy(n: int = 1000, chunks: int = 40):
    return {"size": size(blob=big(df=small(n=n), chunks=chunks))}
