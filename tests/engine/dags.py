"""Pipelines used across the engine tests, named by their shape."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import pyarrow as pa

from headrace.engine import component, get_run_context, pipeline


@component
def make_numbers(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"x": list(range(n))})


@component
def scale(df: pd.DataFrame, factor: float = 2.0) -> pd.DataFrame:
    get_run_context().log("rows", len(df))
    return df * factor


@component
def total(df: pd.DataFrame) -> float:
    return float(df["x"].sum())


@component
def add(a: float, b: float) -> float:
    return a + b


@pipeline
def chain(n: int = 5, factor: float = 2.0):
    """make_numbers → scale → total."""
    return {"total": total(df=scale(df=make_numbers(n=n), factor=factor))}


@pipeline
def diamond(n: int = 4):
    """One source, two branches, one join."""
    src = make_numbers(n=n)
    left = total(df=scale(df=src, factor=2.0))
    right = total(df=scale(df=src, factor=3.0))
    return {"sum": add(a=left, b=right)}


BARRIER_PARTIES = 2


def new_barrier() -> threading.Barrier:
    return threading.Barrier(BARRIER_PARTIES, timeout=10)


barrier = new_barrier()


@component
def meet(tag: str) -> str:
    """Waits until the other branch also runs: only passes when both run at the same time."""
    barrier.wait()
    return tag


@pipeline
def fan_out_two():
    """Two independent steps that must overlap in time."""
    return {"a": meet(tag="a"), "b": meet(tag="b")}


@component
def boom(x: int = 1) -> int:
    raise ValueError(f"bad value {x}")


@component
def slow_ok(seconds: float = 0.3) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def failing_branch(seconds: float = 0.3):
    """A failing branch and an independent slow one: continue_on_step_failure decides its fate."""
    bad = boom(x=3)
    after_bad = add(a=bad, b=1.0)
    ok = slow_ok(seconds=seconds)
    later = add(a=ok, b=2.0).after(bad)
    independent = add(a=ok, b=3.0).named("independent")
    return {"after_bad": after_bad, "later": later, "independent": independent}


@component
def write_folder(files: int = 3) -> Path:
    out = get_run_context().output_dir / "folder"
    out.mkdir()
    for i in range(files):
        (out / f"f{i}.txt").write_text(f"file {i}")
    return out


@component
def count_files(folder: Path) -> tuple[Annotated[int, "count"], Annotated[pa.Table, "listing"]]:
    names = sorted(p.name for p in folder.iterdir())
    return len(names), pa.table({"name": names})


@pipeline
def files_and_arrow(files: int = 3):
    """A folder output feeding a step with an int and a pyarrow output."""
    counted = count_files(folder=write_folder(files=files))
    return {"count": counted.outputs.count, "listing": counted.outputs.listing}


@component(retries=1)
def fails_once(counter: str) -> int:
    """Fails its first attempt (each attempt leaves a file in the folder ``counter``)."""
    folder = Path(counter)
    folder.mkdir(exist_ok=True)
    n = len(list(folder.iterdir())) + 1
    (folder / str(n)).touch()
    print(f"attempt {n} starting")
    if n == 1:
        raise ValueError("first attempt fails")
    return n
