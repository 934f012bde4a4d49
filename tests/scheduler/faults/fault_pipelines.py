"""Pipelines the fault tests fire: each appends what it processed to a ledger file."""

import json
import os
import time
from pathlib import Path

from headrace.engine import component, get_run_context, pipeline


def _record(ledger: str, files: list[Path]) -> None:
    run_id = get_run_context().run_id
    with open(ledger, "a") as out:
        for f in files:
            out.write(json.dumps({"name": f.name, "text": f.read_text(), "run": run_id}) + "\n")


def _wait_for_gate(gate: str) -> None:
    deadline = time.time() + 120
    while gate and os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.05)


@component(allow_reuse=False)
def ingest(files: list[Path], ledger: str, gate: str) -> int:
    _wait_for_gate(gate)  # a run the test can hold in flight
    _record(ledger, files)
    return len(files)


@pipeline
def on_files(files: list[Path], ledger: str = "", gate: str = ""):
    """Gets the changed files."""
    return {"n": ingest(files=files, ledger=ledger, gate=gate)}


@component(allow_reuse=False)
def ingest_path(path: Path, ledger: str) -> int:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    _record(ledger, files)
    return len(files)


@pipeline
def on_path(path: Path, ledger: str = ""):
    """Gets one Path: what this firing changed."""
    return {"n": ingest_path(path=path, ledger=ledger)}
