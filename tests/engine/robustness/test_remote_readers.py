"""Remote (fsspec) artifact root: concurrent consumers of one folder artifact."""

import threading
import uuid
from pathlib import Path

from headrace.engine import component, get_run_context, pipeline
from headrace.engine.store.workspace import Workspace


@component
def make_dir() -> Path:
    out = get_run_context().output_dir / "d"
    out.mkdir()
    for i in range(200):
        (out / f"f{i}.txt").write_text("x" * 1000)
    return out


_barrier = threading.Barrier(6, timeout=10)


@component(allow_reuse=False)
def use_dir(d: Path, i: int) -> int:
    return len(list(d.iterdir()))


@pipeline
def fan():
    d = make_dir()
    return {f"n{i}": use_dir(d=d, i=i) for i in range(6)}


def test_parallel_consumers_of_remote_folder(tmp_path):
    ws = Workspace(tmp_path / "ws", artifact_root=f"memory://review-{uuid.uuid4().hex}")
    run = fan.submit(workspace=ws, max_workers=6)
    errs = {k: s.error for k, s in run.steps.items() if s.error}
    assert run.status == "Completed", errs
