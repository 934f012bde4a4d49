"""Executors compared on one DAG: headrace on local, dask and prefect, vs plain Dask and Prefect.

A 100-step fan-out (one source, 99 consumers) and a 20-step chain of trivial components, every
step forced to run (regenerate_outputs), history and artifacts recorded. Baselines measured in
the same run: plain ``dask.distributed`` (one ``client.submit`` per node) on the same
LocalCluster (2 worker processes), and a plain Prefect flow with one task per node on the same
server and task runner. Prints ms/step and ratios; targets: the prefect executor ≤ 10% over
plain Prefect, the dask executor's per-step overhead over plain Dask ≤ 5 ms.

The Prefect server is PREFECT_API_URL when set, else a temporary one started (and stopped) here.
The server stores task runs well after a flow returns (~25 ms each on 2 cores), so each Prefect
measurement starts once the server has stored every task run of the one before: otherwise a
run competes with its predecessor's backlog and the figures say more about the order of runs.

Usage: python benchmarks/executors.py [--repeat 3] [--skip-prefect]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from headrace.engine import Workspace, component, pipeline
from headrace.engine.execution.executors import make_executor

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
logging.getLogger("distributed").setLevel(logging.WARNING)
FAN, CHAIN = 100, 20


def source_fn() -> int:
    return 1


def inc_fn(x: int) -> int:
    return x + 1


source = component(source_fn, name="source")
inc = component(inc_fn, name="inc")


@pipeline(name="fan-out")
def fan_out():
    s = source()
    return {f"o{i}": inc(x=s) for i in range(FAN - 1)}


@pipeline(name="chain")
def chain():
    v = source()
    for _ in range(CHAIN - 1):
        v = inc(x=v)
    return {"last": v}


SHAPES = {"fan-out": (fan_out, FAN), "chain": (chain, CHAIN)}


def best(
    fn: Callable[[], object], repeat: int, after: Callable[[object], object] | None = None
) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs (after one warm-up); ``after`` gets what
    ``fn`` returned and runs untimed after each call."""
    times = []
    for i in range(repeat + 1):
        t = time.perf_counter()
        out = fn()
        if i:
            times.append(time.perf_counter() - t)
        if after is not None:
            after(out)
    return statistics.median(times)


def headrace_run(shape: str, ws: Workspace, executor: str, client: object = None) -> object:
    """One forced run; returns the executor's Prefect flow run id (None on other executors)."""
    pipe, _ = SHAPES[shape]
    chosen = make_executor(executor, client=client) if client else make_executor(executor)
    run = pipe.submit(workspace=ws, executor=chosen, regenerate_outputs=True, max_workers=8)
    assert run.status == "Completed", run.status
    return getattr(chosen, "flow_run_id", None)


def plain_dask(shape: str, client: object) -> None:
    from distributed import Client

    assert isinstance(client, Client)
    if shape == "fan-out":
        s = client.submit(source_fn, pure=False)
        client.gather([client.submit(inc_fn, s, pure=False) for _ in range(FAN - 1)])
    else:
        v = client.submit(source_fn, pure=False)
        for _ in range(CHAIN - 1):
            v = client.submit(inc_fn, v, pure=False)
        v.result()


def client_driven_dask(shape: str, client: object) -> None:
    """Plain Dask driven step by step from the client (submit, wait, submit the next):
    the floor for any engine that decides each step when its upstream has finished."""
    from distributed import Client, wait

    assert isinstance(client, Client)
    s = client.submit(source_fn, pure=False)
    wait(s)
    if shape == "fan-out":
        client.gather([client.submit(inc_fn, s, pure=False) for _ in range(FAN - 1)])
        return
    for _ in range(CHAIN - 1):
        s = client.submit(inc_fn, s.result(), pure=False)
    s.result()


def plain_prefect(shape: str) -> object:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.futures import wait
    from prefect.task_runners import ThreadPoolTaskRunner

    from headrace.engine.execution.executors.prefect.env import drain

    opts = {"cache_policy": NO_CACHE, "persist_result": False}
    src, step = task(source_fn, **opts), task(inc_fn, **opts)

    @flow(name=f"plain-{shape}", persist_result=False, task_runner=ThreadPoolTaskRunner(8))
    def body() -> None:
        s = src.submit()
        if shape == "fan-out":
            futures = [step.submit(s) for _ in range(FAN - 1)]
        else:
            futures = [s]
            for _ in range(CHAIN - 1):
                futures.append(step.submit(futures[-1]))
        wait(futures)

    state = body(return_state=True)
    drain()  # headrace's executor drains too: everything is on the server when it returns
    return state.state_details.flow_run_id


def stored(n_tasks: int, flow_run_id: object, timeout: float = 120) -> None:
    """Wait until the server has stored ``n_tasks`` finished task runs of ``flow_run_id``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId

    which = TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id]))
    deadline = time.time() + timeout
    with get_client(sync_client=True) as client:
        while time.time() < deadline:
            runs = client.read_task_runs(task_run_filter=which)
            if sum(1 for r in runs if r.state is not None and r.state.is_final()) >= n_tasks:
                return
            time.sleep(0.1)
    raise TimeoutError(f"the server stored fewer than {n_tasks} task runs in {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-prefect", action="store_true")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    results: dict[tuple[str, str], float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="headrace-bench-"))
    ws = Workspace(tmp / "ws")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
    client = Client(cluster)
    try:
        for shape in SHAPES:
            results[shape, "headrace local"] = best(
                partial(headrace_run, shape, ws, "local"), args.repeat
            )
            results[shape, "plain dask"] = best(partial(plain_dask, shape, client), args.repeat)
            results[shape, "client-driven dask"] = best(
                partial(client_driven_dask, shape, client), args.repeat
            )
            results[shape, "headrace dask"] = best(
                partial(headrace_run, shape, ws, "dask", client), args.repeat
            )
        if not args.skip_prefect:
            run_prefect(ws, tmp, results, args.repeat)
    finally:
        client.close()
        cluster.close()
    report(results)


def run_prefect(
    ws: Workspace, tmp: Path, results: dict[tuple[str, str], float], repeat: int
) -> None:
    from headrace.engine.execution.executors.prefect import server as prefect_server
    from headrace.engine.execution.executors.prefect.env import pointed_at

    url = os.environ.get("PREFECT_API_URL")
    started = None
    if not url:
        started = tmp / "server-ws"
        url = prefect_server.start(started, port=None).url
    try:
        os.environ["PREFECT_API_URL"] = url
        with pointed_at(url, ws.root):
            for shape, (_, n) in SHAPES.items():
                settled = partial(stored, n)
                results[shape, "plain prefect"] = best(
                    partial(plain_prefect, shape), repeat, settled
                )
                results[shape, "headrace prefect"] = best(
                    partial(headrace_run, shape, ws, "prefect"), repeat, settled
                )
    finally:
        if started is not None:
            prefect_server.stop(started)


def report(results: dict[tuple[str, str], float]) -> None:
    print(f"\n{'DAG':9} {'runner':18} {'wall s':>8} {'ms/step':>8}")
    for (shape, runner), secs in results.items():
        n = SHAPES[shape][1]
        print(f"{shape:9} {runner:18} {secs:8.3f} {1000 * secs / n:8.2f}")
    print()
    for shape, (_, n) in SHAPES.items():
        r = {runner: secs for (s, runner), secs in results.items() if s == shape}
        over = 1000 * (r["headrace dask"] - r["plain dask"]) / n
        over_local = 1000 * (r["headrace dask"] - r["headrace local"]) / n
        over_floor = 1000 * (r["headrace dask"] - r["client-driven dask"]) / n
        print(
            f"{shape}: dask executor overhead {over:+.2f} ms/step over plain Dask "
            f"(target ≤ 5), {over_floor:+.2f} ms/step over client-driven Dask, "
            f"{over_local:+.2f} ms/step over headrace local"
        )
        if "plain prefect" in r:
            ratio = r["headrace prefect"] / r["plain prefect"]
            print(f"{shape}: prefect executor / plain Prefect = {ratio:.2f} (target ≤ 1.10)")


if __name__ == "__main__":
    main()
