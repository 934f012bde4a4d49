"""Pipelines the README's schedules fire: a nightly ``training`` and a ``score`` data trigger.

``headrace schedule create on-data --pipeline examples/flows.py:score --on-change
data/incoming --glob '*.csv' --data-path-param files`` runs ``score`` on every new or changed
CSV dropped into ``data/incoming`` (each file once, confirmed by content).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
from quickstart import training  # noqa: F401  (the nightly schedule's pipeline)

from headrace.engine import component, get_run_context, pipeline


@component(allow_reuse=False)
def read_batch(files: list[Path]) -> pd.DataFrame:
    """Read the CSV files of one firing into one table, with the file each row came from."""
    frames = [pd.read_csv(f).assign(source=f.name) for f in files]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"source": []})
    get_run_context().log("rows", len(table))
    return table


@component
def summarize(table: pd.DataFrame) -> Annotated[Path, "summary"]:
    """Count rows per file and write the counts as JSON."""
    counts = {str(k): int(v) for k, v in table.groupby("source").size().items()}
    out = get_run_context().output_dir / "summary.json"
    out.write_text(json.dumps(counts, indent=2))
    return out


@pipeline(name="score")
def score(files: list[Path]):
    """The changed files of one firing -> a summary of what arrived."""
    return {"summary": summarize(table=read_batch(files=files))}
