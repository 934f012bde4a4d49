"""A large parameter value is stored once, not copied into every run, and views stay short.

A 50 MB parameter was copied into every run's row, and ``runs show`` printed all of it (49 s).
"""

from __future__ import annotations

import json

from headrace.engine import Workspace, component, pipeline
from headrace.engine.store.gc import collect
from headrace.engine.store.stored_values import LARGE, StoredValue


@component
def count(text: str) -> int:
    return len(text)


@pipeline(name="large-param")
def flow(text: str = ""):
    return {"n": count(text=text)}


def _stored(ws: Workspace) -> int:
    return ws.history.query("SELECT count(*) AS n FROM stored_values")[0]["n"]


def test_a_large_value_is_stored_once_and_read_back_whole(ws: Workspace) -> None:
    text = "x" * (3 * LARGE)
    runs = [flow.submit(params={"text": text}, workspace=ws) for _ in range(3)]
    assert _stored(ws) == 1
    rows = ws.history.query("SELECT params FROM runs")
    assert all(len(r["params"]) < 300 for r in rows)  # a reference, not the value
    assert all(ws.run(r.id).params["text"] == text for r in runs)
    listed = ws.history.list_runs()[0]["params"]["text"]
    assert isinstance(listed, StoredValue) and str(listed) == "<str of 0.2 MB>"
    from headrace.engine.cli.as_json import dumps
    from headrace.engine.cli.view import short_text

    assert json.loads(dumps({"text": listed})) == {"text": "<str of 0.2 MB>"}  # runs list --json
    assert short_text(listed, 30) == "<str of 0.2 MB>"  # the runs list table
    small = flow.submit(params={"text": "short"}, workspace=ws)
    assert ws.run(small.id).params == {"text": "short"} and _stored(ws) == 1


def test_gc_forgets_a_stored_value_with_the_last_run_using_it(ws: Workspace) -> None:
    flow.submit(params={"text": "y" * (2 * LARGE)}, workspace=ws)
    flow.submit(params={"text": "z"}, workspace=ws)
    collect(ws, keep_last=1)
    assert _stored(ws) == 0


@component
def keys(cfg: dict) -> list[str]:
    return sorted(cfg)


@pipeline(name="reference-lookalike")
def lookalike(cfg: dict):
    return {"keys": keys(cfg=cfg)}


def test_a_value_that_looks_like_a_stored_reference_is_kept_as_it_is(ws: Workspace) -> None:
    """A user's dict holding the marker key is neither mistaken for a reference (which broke
    ``runs list`` with a KeyError) nor replaced by a placeholder."""
    for cfg in (
        {"__headrace_stored_value__": "abc"},
        {"__headrace_stored_value__": "abc", "size": 5, "type": "str"},
    ):
        run = lookalike.submit(params={"cfg": cfg}, workspace=ws)
        assert run.status == "Completed"
        assert ws.run(run.id).params["cfg"] == cfg
        assert ws.history.list_runs()[0]["params"]["cfg"] is not None  # listing does not fail
