"""Each submit(workspace=PATH) opens a Workspace that is never closed; a sweep keeping its runs leaks fds."""

import os

from headrace.engine import component, pipeline


@component
def sq(x: float) -> float:
    return x * x


@pipeline
def sweep(x: float = 1.0):
    return {"y": sq(x=x)}


def test_sweep_does_not_leak_file_descriptors(tmp_path):
    ws = tmp_path / "ws"
    sweep.submit({"x": 0.0}, workspace=ws)
    before = len(os.listdir("/proc/self/fd"))
    runs = [sweep.submit({"x": float(i)}, workspace=ws) for i in range(1, 51)]
    after = len(os.listdir("/proc/self/fd"))
    assert all(r.status == "Completed" for r in runs)
    assert after - before < 20, f"{after - before} fds leaked over 50 submits"
