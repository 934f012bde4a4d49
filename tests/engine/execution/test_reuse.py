"""Content-hash reuse: what re-runs, what is reused, and why (DESIGN §4)."""

from __future__ import annotations

import os
import sys
import textwrap
from collections import deque
from pathlib import Path

import pandas as pd
import pytest

from headrace.engine import component, pipeline
from headrace.engine.definitions.loader import import_file, load_pipeline

PIPELINE_SOURCE = '''
"""Reuse test pipeline: csv -> load -> clean -> summarize, plus a folder counter."""

from pathlib import Path

import pandas as pd

from headrace.engine import component, get_run_context, pipeline

THRESHOLD = 0


def keep(df):
    return df[df["v"] > THRESHOLD]


@component
def load(raw: Path) -> pd.DataFrame:
    return pd.read_csv(raw)


@component
def clean(df: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    get_run_context().log("rows", len(df))
    return keep(df) * scale


@component
def summarize(df: pd.DataFrame) -> float:
    return float(df["v"].sum())


@component
def count(folder: Path) -> int:
    return len(list(folder.iterdir()))


@pipeline
def reuse_me(raw: Path, folder: Path, scale: float = 1.0):
    cleaned = clean(df=load(raw=raw), scale=scale)
    return {"total": summarize(df=cleaned), "count": count(folder=folder)}
'''


class Project:
    """A pipeline file, its data, and a workspace; edits reload the module like a new process."""

    def __init__(self, tmp: Path):
        self.dir = tmp / "project"
        self.dir.mkdir()
        self.file = self.dir / "flow.py"
        self.file.write_text(PIPELINE_SOURCE)
        self.raw = self.dir / "data" / "raw.csv"
        self.raw.parent.mkdir()
        self.raw.write_text("v\n1\n2\n3\n")
        self.folder = self.dir / "folder"
        self.folder.mkdir()
        (self.folder / "a.txt").write_text("a")
        self.ws = tmp / "ws"

    def edit(self, old: str, new: str) -> None:
        text = self.file.read_text()
        assert old in text
        self.file.write_text(text.replace(old, new))

    def run(self, **params):
        for name in [m for m in sys.modules if m.startswith("headrace_user_flow")]:
            del sys.modules[name]
        pipe = load_pipeline(str(self.file))
        values = {"raw": self.raw, "folder": self.folder, **params}
        run = pipe.submit(params=values, workspace=self.ws)
        assert run.status == "Completed", {k: s.error for k, s in run.steps.items()}
        return run

    def ran(self, run) -> dict[str, str]:
        """Step → reason, for the steps that executed."""
        return {k: s.reason for k, s in run.steps.items() if not s.reused}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_second_run_reuses_everything(project: Project) -> None:
    first = project.run()
    assert project.ran(first) == dict.fromkeys(["load", "clean", "summarize", "count"], "new")
    second = project.run()
    assert project.ran(second) == {}
    s = second.steps["clean"]
    assert s.reused and s.reused_from == first.id and s.metrics == {"rows": 3}
    assert s.outputs["output"].path == first.steps["clean"].outputs["output"].path
    assert second.outputs["total"].load() == 6.0


def test_parameter_change_reruns_the_step_and_dependants(project: Project) -> None:
    project.run()
    run = project.run(scale=2.0)
    assert project.ran(run) == {
        "clean": "parameter scale changed 1.0 → 2.0",
        "summarize": "upstream output changed",
    }
    assert run.outputs["total"].load() == 12.0


def test_regenerate_outputs_forces_every_step(project: Project) -> None:
    project.run()
    for name in [m for m in sys.modules if m.startswith("headrace_user_flow")]:
        del sys.modules[name]
    pipe = load_pipeline(str(project.file))
    run = pipe.submit(
        params={"raw": project.raw, "folder": project.folder},
        workspace=project.ws,
        regenerate_outputs=True,
    )
    assert {s.reason for s in run.steps.values()} == {"forced (regenerate_outputs)"}
    assert not any(s.reused for s in run.steps.values())


def test_body_edit_reruns_only_affected_steps(project: Project) -> None:
    project.run()
    project.edit('return float(df["v"].sum())', 'return float(df["v"].sum()) + 1')
    assert project.ran(project.run()) == {"summarize": "code changed"}


def test_helper_and_constant_edits_are_code_changes(project: Project) -> None:
    project.run()
    project.edit("THRESHOLD = 0", "THRESHOLD = 1")
    run = project.run()
    assert project.ran(run) == {"clean": "code changed", "summarize": "upstream output changed"}
    project.edit('return df[df["v"] > THRESHOLD]', 'return df[df["v"] >= THRESHOLD]')
    assert project.ran(project.run())["clean"] == "code changed"


def test_comment_docstring_and_whitespace_edits_rerun_nothing(project: Project) -> None:
    project.run()
    project.edit(
        "def load(raw: Path) -> pd.DataFrame:\n",
        'def load(raw: Path) -> pd.DataFrame:\n    """Read the CSV."""  # a comment\n\n',
    )
    project.edit("return float(", "return   float(")
    assert project.ran(project.run()) == {}


def test_early_cutoff_identical_upstream_bytes(project: Project) -> None:
    project.run()
    # A code change in clean that produces the same table: clean re-runs, summarize does not.
    project.edit("return keep(df) * scale", "return keep(df) * scale  # same\n    pass")
    project.edit("    pass", "    # nothing")
    project.edit("return keep(df) * scale", "out = keep(df) * scale\n    return out")
    run = project.run()
    assert project.ran(run) == {"clean": "code changed"}
    assert run.steps["summarize"].reused


def test_input_bytes_changed_with_same_size_and_mtime(project: Project) -> None:
    project.run()
    st = project.raw.stat()
    project.raw.write_text("v\n1\n2\n4\n")  # same size
    os.utime(project.raw, ns=(st.st_atime_ns, st.st_mtime_ns))
    run = project.run()
    assert project.ran(run) == {
        "load": "input raw changed",
        "clean": "upstream output changed",
        "summarize": "upstream output changed",
    }
    assert run.outputs["total"].load() == 7.0


def test_touch_and_directory_rename_rerun_nothing(project: Project) -> None:
    project.run()
    os.utime(project.raw)  # touched, same bytes
    moved = project.raw.parent.rename(project.dir / "renamed")
    project.raw = moved / "raw.csv"
    assert project.ran(project.run()) == {}


def test_folder_gaining_a_file(project: Project) -> None:
    project.run()
    (project.folder / "b.txt").write_text("b")
    run = project.run()
    assert project.ran(run) == {"count": "input folder changed"}
    assert run.outputs["count"].load() == 2


def test_deleted_artifact_means_rerun_not_failure(project: Project) -> None:
    first = project.run()
    path = Path(first.steps["clean"].outputs["output"].path)
    path.unlink()
    run = project.run()
    assert project.ran(run) == {"clean": "outputs of the cached run are missing from the store"}
    assert Path(run.steps["clean"].outputs["output"].path).exists()
    assert run.steps["summarize"].reused  # same bytes again: early cut-off


# A deque, not a list: a module-level list of primitives is part of the code fingerprint
# (it is configuration by value), and these tests mutate it.
calls: deque[str] = deque()


@component(allow_reuse=False)
def always(x: int) -> int:
    calls.append("always")
    return x


@component(deterministic=False)
def random_step(x: int) -> int:
    calls.append("random")
    return x


@component
def flaky_once(x: int) -> int:
    calls.append("flaky")
    if calls.count("flaky") == 1:
        raise RuntimeError("first time fails")
    return x


@pipeline
def policies(x: int = 1):
    return {"a": always(x=x), "r": random_step(x=x), "f": flaky_once(x=x)}


def test_reuse_policies_and_failed_steps_are_never_cached(ws) -> None:
    calls.clear()
    first = policies.submit(workspace=ws, continue_on_step_failure=True)
    assert first.steps["flaky_once"].status == "Failed"
    assert ws.history.query("SELECT count(*) AS n FROM cache")[0]["n"] == 0
    second = policies.submit(workspace=ws)
    reasons = {k: s.reason for k, s in second.steps.items()}
    assert reasons["always"] == "reuse disabled (allow_reuse=False)"
    assert reasons["random_step"] == "reuse disabled (deterministic=False)"
    assert reasons["flaky_once"] == "new" and second.status == "Completed"
    third = policies.submit(workspace=ws)
    assert third.steps["flaky_once"].reused and not third.steps["always"].reused
    assert calls.count("always") == 3 and calls.count("random") == 3 and calls.count("flaky") == 2


@component
def takes_object(thing: object) -> str:
    return type(thing).__name__


def test_unfingerprintable_input_refuses_reuse_with_a_warning(ws) -> None:
    import threading

    @pipeline
    def p():
        return {"t": takes_object(thing=threading.Lock())}

    with pytest.warns(
        UserWarning, match=r"step 'takes_object': input 'thing' cannot be fingerprinted"
    ):
        run = p.submit(workspace=ws)
    assert run.steps["takes_object"].reason == "reuse disabled (cannot fingerprint thing)"


def test_reuse_across_processes_executor(ws) -> None:
    from tests.engine.dags import diamond

    first = diamond.submit(workspace=ws, executor="local-processes", max_workers=2)
    second = diamond.submit(workspace=ws, executor="local-processes", max_workers=2)
    assert all(s.reused for s in second.steps.values())
    assert second.outputs["sum"].load() == first.outputs["sum"].load()


def test_table_data_change_reruns_consumers(tmp_path: Path, ws) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("v\n1\n")
    path = tmp_path / "flow2.py"
    path.write_text(textwrap.dedent(PIPELINE_SOURCE))
    flow = import_file(path)
    folder = tmp_path / "f"
    folder.mkdir()
    flow.reuse_me.submit(params={"raw": csv, "folder": folder}, workspace=ws)
    csv.write_text("v\n5\n")
    run = flow.reuse_me.submit(params={"raw": csv, "folder": folder}, workspace=ws)
    assert {k for k, s in run.steps.items() if not s.reused} == {"load", "clean", "summarize"}
    pd.testing.assert_frame_equal(
        run.steps["load"].outputs["output"].load(), pd.DataFrame({"v": [5]})
    )


@component
def read_url(src: Path) -> str:
    import fsspec

    with fsspec.open(str(src), "r") as f:
        return f.read()


@pipeline
def from_url(src: Path):
    return {"text": read_url(src=src)}


def test_fsspec_url_inputs_are_keyed_on_content(ws) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/reuse-url/a.txt", b"hello")
    url = "memory://reuse-url/a.txt"
    assert from_url.submit(params={"src": url}, workspace=ws).outputs["text"].load() == "hello"
    assert from_url.submit(params={"src": url}, workspace=ws).steps["read_url"].reused
    fs.pipe("/reuse-url/a.txt", b"world")
    run = from_url.submit(params={"src": url}, workspace=ws)
    assert run.steps["read_url"].reason == "input src changed"
    assert run.outputs["text"].load() == "world"
