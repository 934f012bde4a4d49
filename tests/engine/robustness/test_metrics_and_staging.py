"""Runner / history robustness."""

import threading
import time

import numpy as np
import pytest

import headrace.engine.store.gc as gcmod
from headrace.engine import component, get_run_context, pipeline
from headrace.engine.store.workspace import Workspace


# --- one non-JSON metric value discards the history of the whole run ----------------------
@component(allow_reuse=False)
def first() -> float:
    return 1.0


@component(allow_reuse=False)
def logs_np_list(x: float) -> float:
    get_run_context().log("curve", [np.float32(0.5), np.float32(0.7)])  # accepted by log()
    return x


@pipeline
def metric_pipe():
    return {"y": logs_np_list(x=first())}


def test_numpy_list_metric(tmp_path):
    run = metric_pipe.submit(workspace=tmp_path / "ws")
    assert run.status == "Completed", run.error
    assert run.steps["logs_np_list"].metrics["curve"] == pytest.approx([0.5, 0.7])


# --- gc during a long step deletes that step's output folder ------------------------------
@component(allow_reuse=False)
def long_writer() -> int:
    out = get_run_context().output_dir
    for i in range(15):
        (out / f"part{i}").write_text("x")  # keeps writing: its own folder stays fresh
        time.sleep(0.1)
    return len(list(out.iterdir()))


@pipeline
def long_pipe():
    return {"n": long_writer()}


def test_gc_does_not_delete_running_step_output_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(gcmod, "STAGING_GRACE_S", 0.5)  # stands for the 1 h grace of a long step
    ws = tmp_path / "ws"
    t = threading.Thread(target=lambda: (time.sleep(1.0), gcmod.collect(Workspace(ws))))
    t.start()
    run = long_pipe.submit(workspace=ws)
    t.join()
    assert run.status == "Completed", run.steps["long_writer"].error
    assert run.outputs["n"].load() == 15
