"""Twenty small steps writing tables and values (concurrent-runs test)."""

import pandas as pd

from headrace.engine import component, pipeline


@component
def make(i: int) -> pd.DataFrame:
    return pd.DataFrame({"i": [i] * 1000, "v": range(1000)})


@component
def total(df: pd.DataFrame) -> int:
    return int(df["v"].sum() + df["i"].iloc[0])


@pipeline
def many(width: int = 10):
    return {f"t{i}": total(df=make(i=i)) for i in range(10)}
