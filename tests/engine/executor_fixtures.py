"""Fixtures shared by the executor tests: one real Dask LocalCluster, executors by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from headrace.engine.execution.executors import Executor, make_executor

EXECUTORS = [  # every executor; the ones needing services are slow
    "local",
    pytest.param("local-processes", marks=pytest.mark.slow),
    pytest.param("dask", marks=pytest.mark.slow),
    pytest.param("prefect", marks=pytest.mark.slow),
]
every_executor = pytest.mark.parametrize("make_exec", EXECUTORS, indirect=True)


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A real LocalCluster (2 worker processes, one thread each) shared by the session."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def make_exec(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Executor]:
    """``make_exec(**options)``: a fresh executor of the kind the test is parametrized with."""
    kind = request.param
    if kind == "dask":
        client = request.getfixturevalue("dask_client")
        return lambda **kw: make_executor("dask", client=client, **kw)
    if kind == "prefect":
        server = request.getfixturevalue("prefect_server")
        monkeypatch.setenv("PREFECT_API_URL", server.url)
        return lambda **kw: make_executor("prefect", **kw)
    return lambda **kw: make_executor(kind, **kw)
