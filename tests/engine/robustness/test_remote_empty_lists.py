"""Remote artifact root: an empty list[Path] (or empty folder) output cannot be stored/loaded."""

import uuid
from pathlib import Path

from headrace.engine import component, pipeline
from headrace.engine.store.workspace import Workspace


@component
def no_files(pattern: str) -> list[Path]:
    return []  # nothing matched: a legitimate result


@component
def count(files: list[Path]) -> int:
    return len(files)


@pipeline
def empty_pipe(pattern: str = "*.csv"):
    return {"n": count(files=no_files(pattern=pattern))}


def test_empty_file_list_on_remote_store(tmp_path):
    ws = Workspace(tmp_path / "ws", artifact_root=f"memory://review-{uuid.uuid4().hex}")
    run = empty_pipe.submit(workspace=ws)
    assert run.status == "Completed", {k: s.error for k, s in run.steps.items()}
    again = empty_pipe.submit(workspace=ws)
    assert again.steps["no_files"].reused, again.steps["no_files"].reason


def test_empty_file_list_on_local_store(tmp_path):
    run = empty_pipe.submit(workspace=tmp_path / "ws")
    assert run.status == "Completed"
