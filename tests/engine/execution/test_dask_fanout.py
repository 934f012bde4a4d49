"""The fan-out from a step on a Dask worker: results as they complete, and a lost ``shared``
(its only copy was on a worker that died) scattered again instead of failing every call."""

from __future__ import annotations

from typing import Any

import pytest

from headrace.engine.execution.executors.dask_fanout import Fanout


def _scale(shared: bytes, arg: int) -> int:
    return int(shared) * arg


def _fan_out(lose_shared: bool) -> list[tuple[Any, Any, str]]:
    with Fanout(_scale, b"10") as fan:
        if lose_shared:  # as when the worker holding its only copy dies
            fan.client.cancel([fan.shared])
        for arg in range(6):
            fan.submit(arg)
        return [
            (arg, result, type(error).__name__ if error else "")
            for arg, result, error in (done for done in fan.completed(0.05) if done)
        ]


@pytest.mark.slow
@pytest.mark.parametrize("lose_shared", [False, True])
def test_every_call_completes_even_when_shared_is_lost(dask_client, lose_shared: bool) -> None:
    done = dask_client.submit(_fan_out, lose_shared, pure=False).result(timeout=60)
    assert sorted(done) == [(arg, 10 * arg, "") for arg in range(6)]
