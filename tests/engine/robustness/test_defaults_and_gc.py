"""Parameter defaults and gc."""

import subprocess
import sys

from headrace.engine import component, pipeline
from headrace.engine.store.gc import collect
from headrace.engine.store.workspace import Workspace


@component
def scale(x: float) -> float:
    return x * 2


@pipeline
def p_default(x: float = 1):
    return {"y": scale(x=x)}


def test_default_and_explicit_same_value_reuse(tmp_path):
    ws = tmp_path / "ws"
    p_default.submit(workspace=ws)
    run = p_default.submit({"x": 1}, workspace=ws)  # the same value as the default
    assert run.steps["scale"].reused, run.steps["scale"].reason


def test_default_is_coerced_to_declared_type():
    assert p_default.definition.bind_params({}) == {"x": 1.0}
    assert isinstance(p_default.definition.bind_params({})["x"], float)


@pipeline
def p_bad_default(n: int = "abc"):  # wrong default type: should be a build/submit error
    return {"y": scale(x=n)}


def test_bad_default_rejected():
    import pytest

    from headrace.engine.errors import HeadraceError

    with pytest.raises(HeadraceError):
        p_bad_default.definition.bind_params({})


@component
def expensive(x: float) -> float:
    return x + 1


@pipeline
def gc_pipe(x: float = 1.0):
    return {"y": expensive(x=x)}


def test_gc_keep_last_keeps_reusability(tmp_path):
    ws = tmp_path / "ws"
    gc_pipe.submit(workspace=ws)  # computes
    gc_pipe.submit(workspace=ws)  # reuses from run 1
    collect(Workspace(ws), keep_last=1)  # keep the newest run (its outputs stay stored)
    run = gc_pipe.submit(workspace=ws)
    assert run.steps["expensive"].reused, run.steps["expensive"].reason


def test_gc_negative_keep_last_rejected(tmp_path):
    ws = tmp_path / "ws"
    gc_pipe.submit(workspace=ws)
    gc_pipe.submit(workspace=ws, regenerate_outputs=True)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "headrace.engine.cli",
            "gc",
            "--keep-last",
            "-1",
            "--workspace",
            str(ws),
        ],
        capture_output=True,
        text=True,
    )
    left = Workspace(ws).history.list_runs()
    assert r.returncode != 0 or len(left) == 2, (r.stdout, len(left))
