"""The quickstart example runs end to end, reuses nothing the first time, and logs metrics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "quickstart.py"


@pytest.mark.slow
def test_quickstart_via_cli(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "headrace.engine.cli",
            "run",
            str(EXAMPLE),
            "-p",
            "reg_rate=0.1",
            "-w",
            str(tmp_path / "ws"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "diabetes-training: Completed" in proc.stdout


def test_quickstart_in_process(ws) -> None:
    from headrace.engine.definitions.loader import load_pipeline

    training = load_pipeline(str(EXAMPLE))
    run = training.submit(params={"reg_rate": 0.1}, workspace=ws)
    assert run.status == "Completed"
    steps = run.steps
    assert list(steps) == ["load_data", "prep", "train", "evaluate"]
    assert steps["load_data"].metrics["rows"] == 442
    acc = run.outputs["accuracy"].load()
    assert 0.6 < acc < 0.95 and steps["evaluate"].metrics["accuracy"] == acc
    assert Path(run.outputs["report"].path).name == "report.json"
    assert hasattr(run.outputs["model"].load(), "predict_proba")
