"""Engine overhead per step, this checkout against an earlier commit, side by side in one run.

Each round runs the same child script twice, once importing headrace from this checkout and
once from ``--before`` (extracted with ``git archive`` into a temporary folder), alternating
so that a drift in the machine's speed hits both alike. The child times ``submit()`` of a
1,000-step chain and fan-out with history and artifacts recorded, and the Python calls
alone, and prints ms of overhead per step. The medians and their ratio are printed.

Usage: python benchmarks/layout.py [--before a306ccd] [--steps 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "scheduler", "components", "pipelines")

CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
import headrace.engine as he
from headrace.engine import Workspace, component, pipeline

n = int(sys.argv[1])

def source_fn() -> int:
    return 1

def inc_fn(x: int) -> int:
    return x + 1

source = component(source_fn, name="source")
inc = component(inc_fn, name="inc")

def build(shape):
    @pipeline(name=shape)
    def p():
        v = s = source()
        for _ in range(n - 1):
            v = inc(x=v if shape == "chain" else s)
        return {"last": v}
    return p

def plain(shape):
    t = time.perf_counter()
    v = source_fn()
    for _ in range(n - 1):
        v = inc_fn(v) if shape == "chain" else inc_fn(1)
    return time.perf_counter() - t

out = {"from": str(Path(he.__file__).parent)}
with tempfile.TemporaryDirectory() as tmp:
    for shape in ("chain", "fanout"):
        ws = Workspace(Path(tmp) / shape)
        build(shape).submit(workspace=ws)  # warm: imports, code fingerprints
        pipe = build(shape)  # a new pipeline: build and validation are timed too
        t = time.perf_counter()
        run = pipe.submit(workspace=ws, regenerate_outputs=True)
        took = time.perf_counter() - t
        assert run.status == "Completed", run.status
        out[shape] = (took - plain(shape)) / n * 1000
        ws.close()
print(json.dumps(out))
"""


def extract(commit: str, dest: Path) -> Path:
    """Put ``commit``'s packages under ``dest/headrace/`` and return the folder to import from."""
    src = dest / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit, *PACKAGES], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    ns = dest / "path" / "headrace"
    ns.mkdir(parents=True)
    for name in PACKAGES:
        (ns / name).symlink_to(src / name)
    return dest / "path"


def child(path: Path | None, n: int) -> dict[str, float]:
    env = dict(os.environ)
    if path is not None:  # ahead of the editable install's finder
        env["PYTHONPATH"] = str(path)
        code = f"import sys; sys.path.insert(0, {str(path)!r}); " + CHILD
    else:
        code = CHILD
    out = subprocess.run(
        [sys.executable, "-c", code, str(n)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"the benchmark failed under {path or ROOT}:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--before", default="a306ccd", help="the commit to compare against")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        old = extract(args.before, Path(tmp))
        runs: dict[str, list[dict[str, float]]] = {"now": [], "before": []}
        for _ in track(range(args.rounds), description="rounds", console=console):
            runs["now"].append(child(None, args.steps))
            runs["before"].append(child(old, args.steps))
    assert not str(runs["before"][0]["from"]).startswith(str(ROOT)), runs["before"][0]
    table = Table(
        title=f"ms of overhead per step, {args.steps} steps, median of {args.rounds} rounds"
    )
    for col in ("shape", "this checkout", f"commit {args.before}", "now / before"):
        table.add_column(col)
    for shape in ("chain", "fanout"):
        now = statistics.median(r[shape] for r in runs["now"])
        before = statistics.median(r[shape] for r in runs["before"])
        table.add_row(shape, f"{now:.3f}", f"{before:.3f}", f"{now / before:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
