"""A fully cached re-run: headrace's engine time per reused step vs Prefect's cache policy.

Runs a 100-step pipeline (a chain of trivial components) once, then times fully cached
re-runs through ``submit()`` (every step reused: cache lookup, output existence check,
history record). Prefect runs the same DAG with ``cache_policy=INPUTS + TASK_SOURCE``
against a real server started for the benchmark (skip with --no-prefect).

Usage: python benchmarks/reuse.py [--steps 100] [--repeat 5] [--no-prefect]
"""

from __future__ import annotations

import argparse
import atexit
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from headrace.engine import Workspace, component, pipeline


def inc_fn(x: int) -> int:
    return x + 1


inc = component(inc_fn, name="inc")


def make_chain(n: int):
    @pipeline(name="cached-chain")
    def chain(start: int = 0):
        v = inc(x=start)
        for _ in range(n - 1):
            v = inc(x=v)
        return {"last": v}

    return chain


PREFECT_SCRIPT = r"""
import sys, time
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def inc_t(x):
    return x + 1

@flow
def chain(n: int):
    v = 0
    for _ in range(n):
        v = inc_t(v)
    return v

n, repeat = int(sys.argv[1]), int(sys.argv[2])
chain(n)  # fill the cache
best = min((lambda t: (chain(n), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(repeat))
print(best)
"""


def _cached_rerun(ws: Workspace, steps: int, repeat: int) -> float:
    chain = make_chain(steps)
    chain.validate()
    assert chain.submit(workspace=ws).status == "Completed"
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run = chain.submit(workspace=ws)
        times.append(time.perf_counter() - t)
        assert all(s.reused for s in run.steps.values())
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-prefect", action="store_true")
    args = ap.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        small = _cached_rerun(ws, args.steps, args.repeat)
        large = _cached_rerun(ws, 2 * args.steps, args.repeat)
        ours = (large - small) / args.steps * 1000
        console.print(
            f"headrace: fully cached re-run of {args.steps} steps: {small * 1000:.1f} ms in "
            f"submit() ({small / args.steps * 1000:.3f} ms/step incl. the run's fixed costs: "
            f"recording the run, loading the result); {2 * args.steps} steps: {large * 1000:.1f} ms"
        )
        console.print(
            f"engine time per reused step (marginal, from the two sizes): {ours:.3f} ms "
            "(target <= 0.05 ms)"
        )
        if args.no_prefect:
            return
        from headrace.engine.execution.executors.prefect import server as prefect_server

        home = Path(tmp) / "prefect"
        console.print("starting a Prefect server for the comparison ...")
        info = prefect_server.start(home, port=None)
        atexit.register(prefect_server.stop, home)
        env = {**os.environ, **prefect_server.client_env(info.url, home)}
        out = subprocess.run(
            [sys.executable, "-c", PREFECT_SCRIPT, str(args.steps), str(max(2, args.repeat // 2))],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        theirs = float(out.stdout.strip().splitlines()[-1]) / args.steps * 1000
        console.print(
            f"prefect (INPUTS + TASK_SOURCE, all cache hits): {theirs:.3f} ms per task; "
            f"headrace's whole cached submit() is {theirs / (small / args.steps * 1000):.0f}x "
            "faster per step"
        )
        prefect_server.stop(home)


if __name__ == "__main__":
    main()
