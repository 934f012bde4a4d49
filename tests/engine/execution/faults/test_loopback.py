"""Nothing headrace starts for a run listens beyond loopback (Dask scheduler, workers, dashboard)."""

from __future__ import annotations

import psutil
import pytest

from headrace.engine.execution.executors.dask import local_cluster_options


def _listening_addresses(pid: int) -> set[str]:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    found = set()
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        found |= {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}
    return found


@pytest.mark.slow
def test_the_local_cluster_listens_on_loopback_only() -> None:
    import os

    from distributed import Client, LocalCluster

    with LocalCluster(**local_cluster_options()) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        assert client.scheduler_info()["services"].get("dashboard")  # there is a dashboard
        addresses = _listening_addresses(os.getpid())
    assert addresses and addresses <= {"127.0.0.1"}, addresses
