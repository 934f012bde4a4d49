"""Engine overhead per step: headrace submit() vs plain Python, Kedro, Hamilton and Prefect.

A 1,000-step chain and a 1,000-step fan-out (one source, 999 consumers) of trivial components
with small outputs, run with run history and artifacts recorded. Prints ms of overhead per
step (wall time minus the plain-Python time of the same calls, over the number of steps) and
the ratios. Prefect runs only with --prefect (it starts a real Prefect server, ~10 s).

It also times building and validating 10,000- and 100,000-step chains (targets: < 1 s
and < 15 s), and the whole ``submit()`` of a newly built pipeline (tracing, validation,
the run and its records), not only the run of an already validated one: fresh (target
0.3 ms/step) and with every step reused (target 0.05 ms/step).

Usage: python benchmarks/overhead.py [--steps 1000] [--repeat 3] [--prefect] [--no-scale]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from headrace.engine import Workspace, component, pipeline

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")


def source_fn() -> int:
    return 1


def inc_fn(x: int) -> int:
    return x + 1


source = component(source_fn, name="source")
inc = component(inc_fn, name="inc")


def make_pipelines(n: int):
    @pipeline(name="chain")
    def chain():
        v = source()
        for _ in range(n - 1):
            v = inc(x=v)
        return {"last": v}

    @pipeline(name="fanout")
    def fanout():
        s = source()
        for _ in range(n - 1):
            inc(x=s)

    return {"chain": chain, "fanout": fanout}


def plain(shape: str, n: int) -> float:
    t = time.perf_counter()
    v = source_fn()
    for _ in range(n - 1):
        v = inc_fn(v) if shape == "chain" else inc_fn(1)
    return time.perf_counter() - t


def run_headrace(pipe, root: Path) -> float:
    ws = Workspace(root)
    pipe.validate()
    t = time.perf_counter()
    run = pipe.submit(workspace=ws, regenerate_outputs=True)
    took = time.perf_counter() - t
    assert run.status == "Completed", run.status
    ws.close()
    return took


def run_headrace_new(shape: str, n: int, root: Path) -> float:
    """The whole submit() of a pipeline built just now: tracing and validation included."""
    ws = Workspace(root)
    make_pipelines(n)[shape].submit(workspace=ws)  # warm: imports, code fingerprints
    pipe = make_pipelines(n)[shape]
    t = time.perf_counter()
    run = pipe.submit(workspace=ws, regenerate_outputs=True)
    took = time.perf_counter() - t
    assert run.status == "Completed", run.status
    ws.close()
    return took


def run_headrace_new_reused(shape: str, n: int, root: Path) -> float:
    """The whole submit() of a pipeline built just now whose every step is reused."""
    ws = Workspace(root)
    make_pipelines(n)[shape].submit(workspace=ws)  # the cache entries, and warm
    pipe = make_pipelines(n)[shape]
    t = time.perf_counter()
    run = pipe.submit(workspace=ws)
    took = time.perf_counter() - t
    assert all(s.reused for s in run.steps.values())
    ws.close()
    return took


def trace_time(n: int) -> float:
    """Seconds to build and validate an n-step chain."""
    pipe = make_pipelines(n)["chain"]
    t = time.perf_counter()
    pipe.validate()
    return time.perf_counter() - t


def linearity(small: int, big: int, root: Path) -> list[tuple[str, float, float]]:
    """(part, seconds at ``small`` steps, seconds at ``big``): a linear part grows by big/small.

    The parts: a fully reused run (reuse lookups, state updates, run records), drawing the
    DAG as text, and making run ids.
    """
    from headrace.engine.execution.submit import new_run_id
    from headrace.engine.render.dag import render_text

    out = []
    reused, drawn = [], []
    for n in (small, big):
        pipe = make_pipelines(n)["chain"]
        ws = Workspace(root / f"lin-{n}")
        pipe.submit(workspace=ws)
        t = time.perf_counter()
        run = pipe.submit(workspace=ws)
        reused.append(time.perf_counter() - t)
        assert all(s.reused for s in run.steps.values())
        ws.close()
        t = time.perf_counter()
        render_text(pipe.definition)
        drawn.append(time.perf_counter() - t)
    out.append(("fully reused run", reused[0], reused[1]))
    out.append(("DAG as text", drawn[0], drawn[1]))
    ids = []
    for n in (small, big):
        t = time.perf_counter()
        for _ in range(n):
            new_run_id()
        ids.append(time.perf_counter() - t)
    out.append(("run ids", ids[0], ids[1]))
    return out


def run_kedro(shape: str, n: int) -> float:
    from kedro.io import DataCatalog
    from kedro.pipeline import node
    from kedro.pipeline import pipeline as kpipeline
    from kedro.runner import SequentialRunner

    for name in ("kedro", "kedro.runner", "kedro.io", "kedro.pipeline"):
        logging.getLogger(name).setLevel(logging.WARNING)  # kedro sets INFO when imported

    nodes = [node(source_fn, None, "v0", name="n0")]
    for i in range(1, n):
        src = f"v{i - 1}" if shape == "chain" else "v0"
        nodes.append(node(inc_fn, src, f"v{i}", name=f"n{i}"))
    pipe = kpipeline(nodes)
    t = time.perf_counter()
    SequentialRunner().run(pipe, DataCatalog())
    return time.perf_counter() - t


def run_hamilton(shape: str, n: int) -> tuple[float, float]:
    """Hamilton on the same DAG: (execute only, driver build + execute), in seconds."""
    from hamilton import ad_hoc_utils, driver

    logging.getLogger("hamilton").setLevel(logging.WARNING)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * n + 1000))  # it recurses per node
    namespace: dict = {"source_fn": source_fn, "inc_fn": inc_fn}
    lines = ["def v0() -> int:\n    return source_fn()\n"]
    for i in range(1, n):
        src = f"v{i - 1}" if shape == "chain" else "v0"
        lines.append(f"def v{i}({src}: int) -> int:\n    return inc_fn({src})\n")
    exec("\n".join(lines), namespace)
    fns = [namespace[f"v{i}"] for i in range(n)]
    name = f"hamilton_bench_{shape}_{time.monotonic_ns()}"
    for fn in fns:
        fn.__module__ = name
    module = ad_hoc_utils.create_temporary_module(*fns, module_name=name)
    finals = [f"v{n - 1}"] if shape == "chain" else [f"v{i}" for i in range(1, n)]
    t = time.perf_counter()
    dr = driver.Builder().with_modules(module).build()
    built = time.perf_counter()
    dr.execute(finals)
    done = time.perf_counter()
    return done - built, done - t


PREFECT_SCRIPT = r"""
import sys, time
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

@task(cache_policy=NO_CACHE, persist_result=False)
def source_t():
    return 1

@task(cache_policy=NO_CACHE, persist_result=False)
def inc_t(x):
    return x + 1

@flow(persist_result=False)
def bench(shape: str, n: int):
    v = source_t.submit()
    futs = [v]
    for _ in range(n - 1):
        v = inc_t.submit(v if shape == "chain" else futs[0])
        futs.append(v)
    for f in futs:
        f.result()

shape, n = sys.argv[1], int(sys.argv[2])
bench(shape, 2)  # warm up the client
t = time.perf_counter()
bench(shape, n)
print(time.perf_counter() - t)
"""


def run_prefect(shape: str, n: int, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PREFECT_SCRIPT, shape, str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--prefect", action="store_true", help="also time Prefect against a real server"
    )
    ap.add_argument("--no-scale", action="store_true", help="skip the 10k/100k-step builds")
    args = ap.parse_args()
    n = args.steps
    console = Console()
    pipes = make_pipelines(n)
    prefect_env = _prefect_env(console) if args.prefect else None
    table = Table(title=f"engine overhead per step, {n} steps, best of {args.repeat} (ms/step)")
    for col in (
        "shape",
        "plain s",
        "headrace",
        "kedro",
        "hamilton",
        "prefect",
        "headrace/kedro",
        "headrace/hamilton",
        "headrace/prefect",
        "headrace, new pipeline",
        "headrace, new pipeline, all reused",
        "hamilton, new driver",
    ):
        table.add_column(col)
    with tempfile.TemporaryDirectory() as tmp:
        for shape, pipe in pipes.items():
            base = min(plain(shape, n) for _ in range(args.repeat))
            ours = min(run_headrace(pipe, Path(tmp) / f"{shape}-{i}") for i in range(args.repeat))
            new = min(
                run_headrace_new(shape, n, Path(tmp) / f"{shape}-new-{i}")
                for i in range(args.repeat)
            )
            reused = min(
                run_headrace_new_reused(shape, n, Path(tmp) / f"{shape}-reused-{i}")
                for i in range(args.repeat)
            )
            kedro = min(run_kedro(shape, n) for _ in range(args.repeat))
            ham = [run_hamilton(shape, n) for _ in range(args.repeat)]
            ham_run, ham_new = min(h[0] for h in ham), min(h[1] for h in ham)

            def per(total: float, base: float = base) -> float:
                return (total - base) / n * 1000

            pref = None
            if prefect_env is not None:
                pref = min(
                    run_prefect(shape, n, prefect_env) for _ in range(max(1, args.repeat - 1))
                )
            table.add_row(
                shape,
                f"{base:.4f}",
                f"{per(ours):.3f}",
                f"{per(kedro):.3f}",
                f"{per(ham_run):.3f}",
                f"{per(pref):.3f}" if pref else "-",
                f"{per(ours) / per(kedro):.2f}",
                f"{per(ours) / per(ham_run):.2f}",
                f"{per(ours) / per(pref):.2f}" if pref else "-",
                f"{per(new):.3f}",
                f"{reused / n * 1000:.3f}",
                f"{per(ham_new):.3f}",
            )
    console.print(table)
    if not args.no_scale:
        for steps, target in ((10_000, 1.0), (100_000, 15.0)):
            took = min(trace_time(steps) for _ in range(2 if steps < 100_000 else 1))
            verdict = "ok" if took < target else "OVER"
            console.print(
                f"build + validate a {steps:,}-step chain: {took:.2f} s "
                f"(target < {target:g} s: {verdict})"
            )
        with tempfile.TemporaryDirectory() as tmp:
            small, big = 1_000, 10_000
            for part, a, b in linearity(small, big, Path(tmp)):
                console.print(
                    f"{part}: {a * 1000:.0f} ms at {small:,} steps, {b * 1000:.0f} ms at "
                    f"{big:,}: x{b / a:.1f} for x{big // small} the steps (linear: about x10)"
                )
    t = statistics.median(_import_time() for _ in range(5))
    console.print(f"import headrace.engine: {t * 1000:.0f} ms (median of 5 fresh interpreters)")


def _import_time() -> float:
    code = "import time; t = time.perf_counter(); import headrace.engine; print(time.perf_counter() - t)"
    return float(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )


def _prefect_env(console: Console) -> dict[str, str]:
    from headrace.engine.execution.executors.prefect import server as prefect_server

    home = Path(tempfile.mkdtemp(prefix="headrace-bench-prefect-"))
    console.print("starting a Prefect server for the comparison ...")
    info = prefect_server.start(home, port=None)
    import atexit

    atexit.register(prefect_server.stop, home)
    return {**os.environ, **prefect_server.client_env(info.url, home)}


if __name__ == "__main__":
    main()
