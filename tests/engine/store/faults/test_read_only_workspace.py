"""A read-only workspace: read commands work, a run says what is wrong and changes nothing.

It used to be reported as a damaged database to "move aside", which discards the history.
The workspace is made read-only the way users meet it: a read-only bind mount (a mounted
backup, a read-only volume), in a private mount namespace (``unshare -m``; root needed).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FILES = Path(__file__).parents[2] / "cli_files"


def _read_only(ws: Path, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run headrace ``commands`` with ``ws`` mounted read-only (one namespace for all)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a read-only bind mount needs root and unshare")
    lines = [f"mount --bind {ws} {ws} && mount -o remount,ro,bind {ws} || exit 97"]
    for i, cmd in enumerate(commands):
        line = shlex.join([sys.executable, "-m", "headrace.engine.cli", *cmd, "-w", str(ws)])
        lines.append(f"{line} >{ws.parent}/out{i} 2>&1; echo $? >{ws.parent}/rc{i}")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", "\n".join(lines)], timeout=120)
    if proc.returncode == 97:
        pytest.skip("this machine cannot make a read-only bind mount")
    return [
        subprocess.CompletedProcess(
            cmd,
            int((ws.parent / f"rc{i}").read_text()),
            (ws.parent / f"out{i}").read_text(),
        )
        for i, cmd in enumerate(commands)
    ]


@pytest.mark.slow
def test_read_commands_work_on_a_read_only_workspace_and_a_run_says_why(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    shutil.copy(FILES / "one.py", tmp_path)
    shutil.copy(FILES / "helper_mod.py", tmp_path)
    flow = str(tmp_path / "one.py")
    first = subprocess.run(
        [sys.executable, "-m", "headrace.engine.cli", "run", flow, "-w", str(ws), "-q"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    run_id = first.stdout.split("run id: ")[1].split()[0]
    before = (ws / "headrace.db").read_bytes()
    listing, show, dry, schedules, run = _read_only(
        ws,
        ["runs", "list"],
        ["runs", "show", run_id],
        ["gc", "--dry-run"],
        ["schedule", "list"],
        ["run", flow],
    )
    assert listing.returncode == 0 and "squares" in listing.stdout, listing.stdout
    assert show.returncode == 0 and "Completed" in show.stdout, show.stdout
    assert dry.returncode == 0 and "dry run" in dry.stdout, dry.stdout
    assert schedules.returncode == 0, schedules.stdout
    assert run.returncode != 0
    assert "is read-only here" in run.stdout and "Traceback" not in run.stdout, run.stdout
    assert "damaged" not in run.stdout and "move it aside" not in run.stdout
    assert (ws / "headrace.db").read_bytes() == before


@pytest.mark.slow
def test_a_read_only_file_that_is_no_headrace_database_gets_one_line(tmp_path: Path) -> None:
    """An empty or foreign headrace.db on a read-only mount: no raw 'no such table' trace."""
    from headrace.engine import Workspace

    ws = tmp_path / "ws"
    Workspace(ws).close()
    for name in ("headrace.db-wal", "headrace.db-shm"):
        (ws / name).unlink(missing_ok=True)
    (ws / "headrace.db").write_bytes(b"")
    (listing,) = _read_only(ws, ["runs", "list"])
    assert listing.returncode != 0
    assert (
        "Traceback" not in listing.stdout and "no such table" not in listing.stdout.split("(")[0]
    ), listing.stdout
    assert "headrace.db" in listing.stdout, listing.stdout
