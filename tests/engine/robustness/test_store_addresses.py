"""Store / reuse problems."""

import os
from pathlib import Path

import pandas as pd
import pytest

from headrace.engine import component, get_run_context, pipeline
from headrace.engine.store.workspace import Workspace


# --- early cut-off broken when a step returns its output_dir -----------------------------
@component
def make_folder(n: int) -> Path:
    out = get_run_context().output_dir
    (out / "a.txt").write_text("same bytes whatever n is")
    return out


@component
def count_files(folder: Path) -> int:
    return len(list(folder.iterdir()))


@pipeline
def folder_pipe(n: int = 1):
    return {"count": count_files(folder=make_folder(n=n))}


def test_identical_output_dir_gives_early_cutoff(tmp_path):
    ws = tmp_path / "ws"
    folder_pipe.submit({"n": 1}, workspace=ws)
    run = folder_pipe.submit({"n": 2}, workspace=ws)  # make_folder re-runs, same bytes
    assert run.steps["count_files"].reused, run.steps["count_files"].reason


# --- artifact root on another filesystem --------------------------------------------------
@component
def table() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2]})


@pipeline
def table_pipe():
    return {"t": table()}


def test_artifact_root_on_other_device(tmp_path):
    other = Path("/dev/shm") / f"headrace-test-{os.getpid()}"
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temp folder")
    ws = Workspace(tmp_path / "ws", artifact_root=str(other))
    run = table_pipe.submit(workspace=ws)
    assert run.status == "Completed", run.steps["table"].error


# --- ordinary DataFrames with non-str column names fail the step -------------------------
@component
def proba() -> pd.DataFrame:
    return pd.DataFrame([[0.1, 0.9], [0.8, 0.2]])  # columns 0, 1 (like predict_proba)


@pipeline
def proba_pipe():
    return {"p": proba()}


def test_int_column_dataframe_output(tmp_path):
    run = proba_pipe.submit(workspace=tmp_path / "ws")
    assert run.status == "Completed", run.steps["proba"].error
