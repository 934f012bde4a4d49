"""Tiny pipelines the scheduler tests fire."""

import os
import time
from pathlib import Path

from headrace.engine import component, pipeline


@component(allow_reuse=False)
def count_files(files: list[Path]) -> int:
    return len(files)


@pipeline
def on_files(files: list[Path]):
    """Gets the changed files."""
    return {"n": count_files(files=files)}


@component(allow_reuse=False)
def note(path: Path) -> str:
    return str(path)


@pipeline
def on_path(path: Path):
    """Gets the changed file, or the folder."""
    return {"p": note(path=path)}


@component(allow_reuse=False)
def nap(seconds: float) -> float:
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(0.05)
    return seconds


@pipeline
def sleepy(seconds: float = 0.0, tag: str = "x"):
    """Sleeps, so runs can overlap or be canceled."""
    return {"s": nap(seconds=seconds)}


PID = os.getpid()
