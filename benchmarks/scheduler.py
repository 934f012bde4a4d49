"""Scheduler benchmark: trigger latency, cron lateness, and the idle daemon's CPU use."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from headrace.engine import Workspace
from headrace.scheduler import Schedule

PIPELINE = """
from pathlib import Path
from headrace.engine import component, pipeline

@component(allow_reuse=False)
def count(files: list[Path]) -> int:
    return len(files)

@pipeline
def on_files(files: list[Path] = [Path(".")], tag: str = "x"):
    return {"n": count(files=files)}
"""


def start_daemon(ws: Path) -> subprocess.Popen[bytes]:
    """Start ``headrace daemon`` and wait until it holds the lock."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "headrace.engine.cli", "daemon", "-w", str(ws)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = ws / "scheduler.lock"
    while not (lock.exists() and lock.read_text()):
        time.sleep(0.05)
    time.sleep(1.0)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the daemon and wait."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def p95(values: list[float]) -> float:
    """The 95th percentile."""
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def trigger_latency(root: Path, pipeline: str, samples: int = 15) -> None:
    """File landing -> run launched by the daemon, and -> run recorded by the engine."""
    ws, inbox = root / "ws-trigger", root / "in"
    inbox.mkdir()
    Schedule.create(
        "lat", pipeline, on_change=str(inbox), settle="0.3s", overlap="allow", workspace=ws
    )
    proc = start_daemon(ws)
    landed = {}
    for i in range(samples):
        path = inbox / f"f{i:02}.csv"
        landed[str(path)] = time.time()
        path.write_text(str(i))
        time.sleep(1.5)
    time.sleep(5)
    stop(proc)
    with Workspace(ws) as w:
        rows = w.history.query(
            "SELECT f.params, f.launched_at, r.created_at FROM firings f "
            "LEFT JOIN runs r ON r.id = f.run_id"
        )
    import json

    launch, created = [], []
    for r in rows:
        first = json.loads(r["params"])["files"].split(",")[0]
        launch.append(r["launched_at"] - landed[first])
        if r["created_at"]:
            created.append(r["created_at"] - landed[first])
    print(f"trigger: {len(rows)} runs for {samples} files (settle 0.3 s)")
    print(
        f"  file landed -> run launched : p50 {statistics.median(launch):.3f} s  "
        f"p95 {p95(launch):.3f} s  (target p95 <= 1 s)"
    )
    print(
        f"  file landed -> run recorded : p50 {statistics.median(created):.3f} s  "
        f"p95 {p95(created):.3f} s  (includes the `headrace run` child's start-up)"
    )


def cron_lateness(root: Path, pipeline: str, seconds: int = 24) -> None:
    """How late a 6-field (seconds) cron fires are decided and launched."""
    ws = root / "ws-cron"
    Schedule.create("tick", pipeline, cron="* * * * * */4", overlap="allow", workspace=ws)
    proc = start_daemon(ws)
    time.sleep(seconds)
    stop(proc)
    with Workspace(ws) as w:
        rows = w.history.query("SELECT fire_time, decided_at, launched_at FROM firings")
    late = [r["decided_at"] - r["fire_time"] for r in rows]
    launched = [r["launched_at"] - r["fire_time"] for r in rows if r["launched_at"]]
    print(
        f"cron '*/4 s': {len(rows)} fires; decided late by max {max(late):.3f} s "
        f"(p50 {statistics.median(late):.3f} s); launched late by max {max(launched):.3f} s "
        "(target <= 1 s)"
    )


def idle_cpu(root: Path, pipeline: str, seconds: float = 30.0) -> None:
    """CPU of an idle daemon with 100 time schedules and 10 watched folders."""
    ws = root / "ws-idle"
    for i in range(100):
        Schedule.create(
            f"daily{i:03}",
            pipeline,
            every="1d",
            at="02:00",
            timezone="Europe/Berlin",
            workspace=ws,
            now=time.time(),
        )
    for i in range(10):
        folder = root / f"watch{i}"
        folder.mkdir()
        for j in range(50):
            (folder / f"x{j}.csv").write_text(str(j))
        Schedule.create(f"folder{i}", pipeline, on_change=str(folder), workspace=ws)
    proc = start_daemon(ws)
    time.sleep(3)
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    c0, t0 = cpu(), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu() - c0, time.monotonic() - t0
    stop(proc)
    print(
        f"idle daemon, 100 schedules + 10 folders: {100 * used / wall:.2f} % of one core "
        f"over {wall:.0f} s (target < 1 %)"
    )


def main() -> None:
    """Run the three measurements and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench_pipeline.py").write_text(PIPELINE)
        pipeline = str(root / "bench_pipeline.py")
        trigger_latency(root, pipeline)
        cron_lateness(root, pipeline)
        idle_cpu(root, pipeline)


if __name__ == "__main__":
    main()
