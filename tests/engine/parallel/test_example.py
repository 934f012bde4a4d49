"""examples/batch_scoring end to end: a run, then a data-change schedule whose daemon scores
only the files that landed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import PipelineRun, Workspace
from headrace.engine.definitions.loader import load_pipeline

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "batch_scoring"
sys.path.insert(0, str(EXAMPLE))
from make_images import write as make_images  # noqa: E402

sys.path.remove(str(EXAMPLE))


@pytest.mark.slow
def test_new_files_landing_are_the_only_ones_the_daemon_scores(tmp_path: Path) -> None:
    images, root = tmp_path / "images", tmp_path / "ws"
    make_images(images, 40)
    ws = Workspace(root)
    pipe = load_pipeline(str(EXAMPLE / "pipeline.py"))
    first = pipe.submit(params={"images": str(images)}, workspace=ws).raise_for_status()
    assert len(first.steps["score"].batches) == 4
    assert len(first.outputs["scores"].load()) == 40

    cli = [sys.executable, "-m", "headrace.engine.cli"]
    made = subprocess.run(
        [*cli, "schedule", "create", "score-new", "--pipeline", str(EXAMPLE / "pipeline.py"),
         "--on-change", str(images), "--glob", "*.png", "--param", f"images={images}",
         "--workspace", str(root)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    daemon = subprocess.Popen(
        [*cli, "daemon", "--workspace", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2.0)  # the daemon is watching
        make_images(images, 5, start=40)
        deadline = time.monotonic() + 90
        fired: list[str] = []
        while time.monotonic() < deadline and not fired:
            runs = ws.history.list_runs(status="Completed")
            fired = [r["id"] for r in runs if r["id"] != first.id]
            time.sleep(0.3)
        assert fired, ws.history.list_runs()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    run = PipelineRun(ws, fired[0])
    step = run.steps["score"]
    fresh = [b for b in step.batches if not b["reused"]]
    assert sum(b["items"] for b in fresh) == 5 and len(step.batches) == 5
    assert step.metrics["items"] == 45 and run.steps["train_digits"].reused
    scores = run.outputs["scores"].load()
    assert scores["file"].tolist() == sorted(p.name for p in images.glob("*.png"))
    ws.close()
