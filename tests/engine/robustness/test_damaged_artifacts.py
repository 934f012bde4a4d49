"""Dedup trusts whatever already sits at an address: a damaged artifact is never repaired."""

import uuid
from pathlib import Path

from headrace.engine import component, get_run_context, pipeline
from headrace.engine.store.workspace import Workspace


@component
def make_dir() -> Path:
    out = get_run_context().output_dir / "shards"
    out.mkdir()
    for i in range(5):
        (out / f"part{i}.txt").write_text(f"shard {i}")
    return out


@component(allow_reuse=False)
def count(d: Path) -> int:
    return len(list(d.iterdir()))


@pipeline
def shards():
    return {"n": count(d=make_dir())}


def test_remote_partial_upload_is_replaced(tmp_path):
    ws = Workspace(tmp_path / "ws", artifact_root=f"memory://review-{uuid.uuid4().hex}")
    first = shards.submit(workspace=ws)
    uri = str(first.steps["make_dir"].outputs["output"].path)
    ws.store.fs.rm(uri + "/part4.txt")  # what an upload killed half-way leaves behind
    import shutil

    shutil.rmtree(ws.store.staging / "cache")  # another machine / a fresh workspace copy
    again = shards.submit(workspace=ws, regenerate_outputs=True)  # the documented remedy
    assert again.outputs["n"].load() == 5


def test_local_damaged_artifact_is_repaired_by_regenerate(tmp_path):
    ws = Workspace(tmp_path / "ws")
    first = shards.submit(workspace=ws)
    path = Path(first.steps["make_dir"].outputs["output"].path)
    (path / "part4.txt").unlink()  # damaged (disk cleanup, a careless consumer, ...)
    again = shards.submit(workspace=ws, regenerate_outputs=True)
    assert again.outputs["n"].load() == 5
