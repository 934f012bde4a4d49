"""Stale or needless reuse found by the reuse fuzzer (test_reuse_fuzz.py), one minimal case each.

Each test is strict-xfail until the engine is fixed; then it passes, xfail(strict) turns that
into a failure, and the marker (and the fuzzer's matching entry in
``fuzz/strategies.py:KNOWN_FINDINGS``) goes. ``HEADRACE_FUZZ_FINDINGS=NAME`` lets the fuzzer
generate the pattern again.
"""

from __future__ import annotations

import importlib
import linecache
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from headrace.engine import PipelineRun, Workspace


class Modules:
    """User modules written into a folder on sys.path, edited the way a user edits them."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch):
        self.folder = folder
        self.prefix = f"fd{uuid.uuid4().hex[:8]}_"
        self.mtime = 1_700_000_000.0
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.setattr(sys, "dont_write_bytecode", True)
        self.keep: list[object] = []  # old module objects stay alive: no id is reused

    def write(self, name: str, source: str) -> Path:
        path = self.folder / f"{self.prefix}{name}.py"
        path.write_text(textwrap.dedent(source).replace("PFX_", self.prefix))
        self.mtime += 10  # an edit seconds later, as a person makes it
        os.utime(path, (self.mtime, self.mtime))
        return path

    def module(self, name: str):
        importlib.invalidate_caches()
        return importlib.import_module(self.prefix + name)

    def forget(self, *names: str) -> None:
        """Drop modules from sys.modules, so the next import makes new module objects."""
        for name in names:
            self.keep.append(sys.modules.pop(self.prefix + name, None))

    def cleanup(self) -> None:
        for name in list(sys.modules):
            if name.startswith(self.prefix):
                del sys.modules[name]


@pytest.fixture
def mods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    m = Modules(tmp_path / "src", monkeypatch)
    m.folder.mkdir()
    yield m
    m.cleanup()


@pytest.fixture
def workspace(tmp_path: Path):
    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()


def _run(flows, ws: Workspace, x: int = 1):
    run = flows.p.submit({"x": x}, workspace=ws)
    return run.steps["step"].reused, run.outputs["out"].load()


FLOWS_USING_CFG = """
from headrace.engine import component, pipeline
from PFX_cfg import K


@component
def step(x: int) -> int:
    return x + int(sum(K))


@pipeline
def p(x: int = 1):
    return {"out": step(x=x)}
"""


def test_reloading_an_edited_pipeline_file_re_runs_the_step_using_its_constant(
    mods: Modules, workspace: Workspace
) -> None:
    source = """
        from headrace.engine import component, pipeline

        K = {1, 2}


        @component
        def step(x: int) -> int:
            return x + len(K)


        @pipeline
        def p(x: int = 1):
            return {"out": step(x=x)}
        """
    mods.write("flows", source)
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 3)
    mods.write("flows", source.replace("{1, 2}", "{1, 2, 3}"))
    linecache.checkcache()  # keep finding linecache out of this test
    importlib.reload(flows)
    assert _run(flows, workspace) == (False, 4)  # now: (True, 3), reused and stale


def test_reloading_an_edited_constants_module_re_runs_the_step(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("cfg", "import numpy as np\n\nK = np.array([1, 2])\n")
    mods.write("flows", FLOWS_USING_CFG)
    cfg, flows = mods.module("cfg"), mods.module("flows")
    assert _run(flows, workspace) == (False, 4)
    mods.write("cfg", "import numpy as np\n\nK = np.array([1, 3])\n")
    linecache.checkcache()  # keep finding linecache out of this test
    importlib.reload(cfg)
    importlib.reload(flows)
    assert _run(flows, workspace) == (False, 5)  # now: (True, 4), reused and stale


def test_re_importing_an_edited_constants_module_re_runs_the_step(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("cfg", "import numpy as np\n\nK = np.array([1, 2])\n")
    mods.write("flows", FLOWS_USING_CFG)
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 4)
    mods.write("cfg", "import numpy as np\n\nK = np.array([1, 3])\n")
    mods.forget("cfg", "flows")  # a fresh import: new module objects, so a new parse
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 5)  # now: (True, 4), reused and stale


def test_a_partial_reload_does_not_cache_old_code_under_the_new_key(
    mods: Modules, workspace: Workspace
) -> None:
    # cfg has a function, so that finding reload_token does not hide this one.
    cfg_source = "K = (5,)\n\n\ndef unused():\n    return 0\n"
    mods.write("cfg", cfg_source)
    mods.write("flows", FLOWS_USING_CFG)
    cfg, flows = mods.module("cfg"), mods.module("flows")
    assert _run(flows, workspace) == (False, 6)
    mods.write("cfg", cfg_source.replace("(5,)", "(6,)"))
    linecache.checkcache()
    importlib.reload(cfg)  # what a notebook user does after editing cfg.py
    assert _run(flows, workspace) == (False, 6)  # flows still holds K = (5,): right
    importlib.reload(flows)  # later (or in a new process): flows sees K = (6,)
    assert _run(flows, workspace) == (False, 7)  # now: (True, 6), reused and stale


def test_editing_a_helper_reached_through_h_ops_re_runs_the_step(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    helpers = project / "fd_ops_helpers.py"
    helpers.write_text("def double(x):\n    return x * 2\n\n\nOPS = {'double': double}\n")
    (project / "flows.py").write_text(
        textwrap.dedent(
            """
            import fd_ops_helpers as h
            from headrace.engine import component, pipeline


            @component
            def step(x: int) -> int:
                return h.OPS["double"](x)


            @pipeline
            def p(x: int = 3):
                return {"out": step(x=x)}
            """
        )
    )
    ws = tmp_path / "ws"

    def headrace_run() -> tuple[bool, int]:
        run_id = f"fd-{uuid.uuid4().hex[:8]}"
        cmd = [sys.executable, "-m", "headrace.engine.cli", "run", str(project / "flows.py")]
        cmd += ["-w", str(ws), "-q", "--run-id", run_id]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run(cmd, check=True, capture_output=True, timeout=120, env=env)
        with Workspace(ws) as workspace:
            run = PipelineRun(workspace, run_id)
            return run.steps["step"].reused, run.outputs["out"].load()

    assert headrace_run() == (False, 6)
    helpers.write_text(helpers.read_text().replace("x * 2", "x * 3"))
    assert headrace_run() == (False, 9)  # now: (True, 6), reused and stale, in a new process


def test_a_memo_filled_at_run_time_changes_no_key(mods: Modules, workspace: Workspace) -> None:
    mods.write("helpers", "MEMO = {}\n\n\ndef double(x):\n    MEMO[x] = x * 2\n    return x * 2\n")
    mods.write(
        "flows",
        """
        import PFX_helpers as h
        from headrace.engine import component, pipeline


        @component
        def step(x: int) -> int:
            return h.MEMO[x] if x in h.MEMO else h.double(x)


        @pipeline
        def p(x: int = 1):
            return {"out": step(x=x)}
        """,
    )
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 2)
    assert _run(flows, workspace) == (True, 2)  # now: (False, 2), re-ran: MEMO has {1: 2}


@pytest.mark.filterwarnings("ignore:headrace. the file defining")
@pytest.mark.parametrize(
    "use",
    ["    from PFX_cfg import K\n    return x + K", "    return x + c.K"],
    ids=["body", "chain"],
)
def test_a_module_edited_after_its_import_still_keys_what_it_reaches(
    mods: Modules, workspace: Workspace, use: str
) -> None:
    flows_source = (
        "import PFX_cfg as c\nfrom headrace.engine import component, pipeline\n\n\n"
        f"@component\ndef step(x: int) -> int:\n{use}\n\n\n"
        '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n'
    )
    mods.write("cfg", "K = 10\n\n\ndef unused():\n    return 0\n")
    mods.write("flows", flows_source)
    cfg, flows = mods.module("cfg"), mods.module("flows")
    mods.write("flows", flows_source.replace("x + ", "x * 2 + "))  # edited, not reloaded
    assert _run(flows, workspace) == (False, 11)  # the loaded code runs: right
    mods.write("cfg", "K = 20\n\n\ndef unused():\n    return 0\n")
    importlib.reload(cfg)
    assert _run(flows, workspace) == (False, 21)  # was (True, 11), reused and stale


@pytest.mark.filterwarnings("ignore:headrace. the file defining")
def test_a_dict_of_helpers_in_a_drifted_module_keys_their_code(
    mods: Modules, workspace: Workspace
) -> None:
    helpers = "K = {k}\n\n\ndef double(x):\n    return x * {n}\n\n\nOPS = {{'double': double}}\n"
    mods.write("helpers", helpers.format(k=1, n=2))
    mods.write(
        "flows",
        "from PFX_helpers import OPS\nfrom headrace.engine import component, pipeline\n\n\n"
        "@component\ndef step(x: int) -> int:\n    return OPS['double'](x)\n\n\n"
        '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n',
    )
    h, flows = mods.module("helpers"), mods.module("flows")
    mods.write("helpers", helpers.format(k=2, n=2))  # edited, not reloaded: drifted
    assert _run(flows, workspace) == (False, 2)
    mods.write("helpers", helpers.format(k=2, n=3))
    importlib.reload(h)
    importlib.reload(flows)
    assert _run(flows, workspace) == (False, 3)
    mods.write("helpers", helpers.format(k=3, n=3))  # drifted again; double still * 3
    assert _run(flows, workspace)[1] == 3  # was 2, reused from the first run, stale


FLOWS_USING_OTHER_C4 = (
    "import PFX_other as o\nfrom headrace.engine import component, pipeline\n\n\n"
    "@component\ndef step(x: int) -> int:\n    return x + sum(o.C4)\n\n\n"
    '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n'
)


def test_a_set_constant_edited_after_its_import_is_not_cached_under_the_new_source(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("other", "C4 = {3, 5, 7, 8}\n")
    mods.write("flows", FLOWS_USING_OTHER_C4)
    # The fuzzer's finding, made minimal: a module-level set cannot be told from a set filled
    # at run time by its value, so only the file's stat at import shows the edit.
    flows = mods.module("flows")  # loaded, not run yet (a notebook cell)
    mods.write("other", "C4 = {3, 5, 7, 8, 18}\n")  # edited, not reloaded
    assert _run(flows, workspace) == (False, 24)  # the loaded set ran
    mods.forget("other", "flows")  # a fresh import: the new set
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 42)  # was (True, 24), reused and stale


def test_a_module_saved_again_unchanged_after_its_import_is_still_reused(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("other", "C4 = {3, 5}\n")
    mods.write("flows", FLOWS_USING_OTHER_C4)
    mods.forget("other", "flows")
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 9)
    mods.write("other", "C4 = {3, 5}\n")  # an editor's save: a new mtime, the same bytes
    mods.forget("other", "flows")
    flows = mods.module("flows")
    mods.write("other", "C4 = {3, 5}\n")  # saved again after this import
    assert _run(flows, workspace) == (True, 9)


# Found by a hostile review of the import watcher: ways the code that runs can differ from
# the file, each of which cached a result under the new source while the old code ran.


def test_a_reload_that_raised_before_an_edited_set_is_not_cached_under_the_new_source(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("other", "C4 = {3, 5}\n")
    mods.write("flows", FLOWS_USING_OTHER_C4)
    flows = mods.module("flows")
    other = sys.modules[mods.prefix + "other"]
    mods.write("other", "raise RuntimeError('half-edited')\nC4 = {3, 5, 8}\n")
    with pytest.raises(RuntimeError, match="half-edited"):
        importlib.reload(other)
    assert _run(flows, workspace) == (False, 9)  # the old set still ran
    mods.write("other", "C4 = {3, 5, 8}\n")  # the raise taken out: that set, at last
    mods.forget("other", "flows")
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 17)  # was (True, 9): reused and stale


def test_a_set_in_a_pipeline_file_loaded_by_path_and_edited_is_not_cached_under_the_edit(
    tmp_path: Path, workspace: Workspace
) -> None:
    from headrace.engine.definitions.loader import load_pipeline

    path = tmp_path / f"flow_{uuid.uuid4().hex[:8]}.py"
    source = (
        "from headrace.engine import component, pipeline\n\nC = SET\n\n\n"
        "@component\ndef step(x: int) -> int:\n    return x + sum(C)\n\n\n"
        '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n'
    )
    path.write_text(source.replace("SET", "{3, 5}"))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    module_name = load_pipeline(f"{path}:p").fn.__module__
    try:
        path.write_text(source.replace("SET", "{3, 5, 8}"))  # edited, not loaded again
        os.utime(path, (1_700_000_010, 1_700_000_010))
        with pytest.warns(UserWarning, match="changed after it was imported"):
            run = load_pipeline(f"{path}:p").submit({"x": 1}, workspace=workspace)
        assert (run.steps["step"].reused, run.outputs["out"].load()) == (False, 9)
        sys.modules.pop(module_name)  # a fresh load: the new set
        run = load_pipeline(f"{path}:p").submit({"x": 1}, workspace=workspace)
        assert (run.steps["step"].reused, run.outputs["out"].load()) == (False, 17)
    finally:
        sys.modules.pop(module_name, None)


def test_an_old_module_object_still_held_is_not_taken_for_a_newer_one_of_its_name(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("other", "C4 = {3, 5}\n")
    mods.write("flows", FLOWS_USING_OTHER_C4)
    flows = mods.module("flows")  # holds this `other`
    mods.write("other", "C4 = {3, 5, 8}\n")
    mods.forget("other")
    assert {3, 5, 8} == mods.module("other").C4  # a newer object under the same name
    assert _run(flows, workspace) == (False, 9)  # the object flows holds ran
    mods.forget("flows")
    flows = mods.module("flows")
    assert _run(flows, workspace) == (False, 17)


def test_worker_processes_run_the_loaded_code_of_a_module_edited_after_its_import(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("other", "C4 = {3, 5}\n")
    mods.write("flows", FLOWS_USING_OTHER_C4)
    flows = mods.module("flows")
    mods.write("other", "C4 = {3, 5, 8}\n")  # edited, not reloaded: {3, 5} is the code
    run = flows.p.submit({"x": 1}, workspace=workspace, executor="local-processes")
    assert (run.steps["step"].reused, run.outputs["out"].load()) == (False, 9)  # was 17
    assert _run(flows, workspace) == (True, 9)  # in this process, the same code: reused


MID_SUMS_LEAF = "import PFX_leaf as leaf\n\n\ndef total(x):\n    return x + sum(leaf.C4)\n"
FLOWS_USING_MID = (
    "import PFX_mid as mid\nfrom headrace.engine import component, pipeline\n\n\n"
    "@component\ndef step(x: int) -> int:\n    return mid.total(x)\n\n\n"
    '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n'
)


def _flows_via_mid(mods: Modules):
    """flows.step returns mid.total(x): x + sum(leaf.C4), with C4 = {3, 5}."""
    mods.write("leaf", "C4 = {3, 5}\n")
    mods.write("mid", MID_SUMS_LEAF)
    mods.write("flows", FLOWS_USING_MID)
    return mods.module("flows")


def _processes(flows, ws: Workspace, x: int = 1):
    run = flows.p.submit({"x": x}, workspace=ws, executor="local-processes", max_workers=1)
    return run.steps["step"].reused, run.outputs["out"].load()


def test_a_worker_runs_the_loaded_code_of_an_edited_module_reached_through_another(
    mods: Modules, workspace: Workspace
) -> None:
    flows = _flows_via_mid(mods)
    mods.write("leaf", "C4 = {3, 5, 8}\n")  # edited, not reloaded: the worker imports mid anew
    assert _processes(flows, workspace) == (False, 9)  # was 17: leaf's edit ran in the worker
    assert _run(flows, workspace) == (True, 9)


def test_a_worker_runs_the_loaded_code_of_an_edited_module_imported_in_the_body(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write("leaf", "C4 = {3, 5}\n")
    mods.write(
        "flows",
        "from headrace.engine import component, pipeline\n\n\n"
        "@component\ndef step(x: int) -> int:\n    import PFX_leaf as leaf\n\n"
        "    return x + sum(leaf.C4)\n\n\n"
        '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n',
    )
    flows = mods.module("flows")
    mods.module("leaf")  # imported here (a notebook cell), then edited and not reloaded
    mods.write("leaf", "C4 = {3, 5, 8}\n")
    assert _processes(flows, workspace) == (False, 9)  # was 17
    assert _run(flows, workspace) == (True, 9)


def test_a_worker_returns_an_instance_of_a_class_from_an_edited_module(
    mods: Modules, workspace: Workspace
) -> None:
    mods.write(
        "box", "class Box:\n    def __init__(self, v):\n        self.v = v\n\n\nC4 = {3, 5}\n"
    )
    mods.write(
        "flows",
        "import PFX_box as b\nfrom headrace.engine import component, pipeline\n\n\n"
        "@component\ndef step(x: int) -> object:\n    return b.Box(x + sum(b.C4))\n\n\n"
        '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n',
    )
    flows = mods.module("flows")
    mods.write(
        "box", "class Box:\n    def __init__(self, v):\n        self.v = v\n\n\nC4 = {3, 5, 8}\n"
    )
    run = flows.p.submit({"x": 1}, workspace=workspace, executor="local-processes")
    out = run.outputs["out"].load()  # was PicklingError: Box is not the same object
    assert (run.steps["step"].reused, type(out).__module__, out.v) == (
        False,
        mods.prefix + "box",
        9,
    )


def test_a_worker_imports_the_file_again_once_the_edited_module_is_reloaded(
    mods: Modules, workspace: Workspace
) -> None:
    flows = _flows_via_mid(mods)
    mods.write("leaf", "C4 = {3, 5, 8}\n")
    assert _processes(flows, workspace) == (False, 9)
    importlib.reload(sys.modules[mods.prefix + "leaf"])  # now the edit is the code
    assert _processes(flows, workspace) == (False, 17)


def test_a_worker_runs_the_loaded_code_of_an_edited_package_and_its_submodule(
    mods: Modules, workspace: Workspace
) -> None:
    pkg = mods.folder / f"{mods.prefix}pkg"
    pkg.mkdir()

    def edit(init: str, sub: str) -> None:
        (pkg / "__init__.py").write_text(init)
        (pkg / "sub.py").write_text(sub)
        mods.mtime += 10
        for path in pkg.iterdir():
            os.utime(path, (mods.mtime, mods.mtime))

    edit("BASE = 100\n", "C4 = {3, 5}\n")
    mods.write(
        "flows",
        "from headrace.engine import component, pipeline\n\n\n"
        "@component\ndef step(x: int) -> int:\n    import PFX_pkg\n    from PFX_pkg import sub\n\n"
        "    return x + PFX_pkg.BASE + sum(sub.C4)\n\n\n"
        '@pipeline\ndef p(x: int = 1):\n    return {"out": step(x=x)}\n',
    )
    flows = mods.module("flows")
    mods.module("pkg.sub")
    edit("BASE = 200\n", "C4 = {3, 5, 8}\n")
    assert _processes(flows, workspace) == (False, 109)  # was 217
    assert _run(flows, workspace) == (True, 109)


def _files(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        (folder / f"{i}.txt").write_text(str(i))
    return folder


@pytest.mark.parametrize("executor", ["local", "local-processes"])
def test_parallel_run_workers_run_the_loaded_code_of_an_edited_module(
    mods: Modules, workspace: Workspace, tmp_path: Path, executor: str
) -> None:
    """With local-processes, the step's worker never imports the edited module itself: what
    it was sent to serve goes on to the parallel-run workers it starts."""
    data = _files(tmp_path / "data", 3)
    mods.write("leaf", "C4 = {3, 5}\n")
    mods.write(
        "scorer",
        "import PFX_leaf as leaf\n\n\ndef init():\n    pass\n\n\n"
        "def run(mini_batch):\n    return [sum(leaf.C4) for _ in mini_batch]\n",
    )
    mods.write(
        "flows",
        "from pathlib import Path\n\nfrom headrace.engine import parallel_run, pipeline\n\n"
        'score = parallel_run(entry="PFX_scorer", name="step", max_concurrency=1)\n\n\n'
        "@pipeline\ndef p(data: Path):\n"
        '    return {"out": score(data=data, mini_batch_size=2).outputs.results}\n',
    )
    flows = mods.module("flows")
    mods.write("leaf", "C4 = {3, 5, 8}\n")  # edited, not reloaded
    run = flows.p.submit(
        {"data": data}, workspace=workspace, executor=executor, max_workers=1
    ).raise_for_status()
    assert run.outputs["out"].load().iloc[:, 1].tolist() == [8, 8, 8]  # was 16
    again = flows.p.submit({"data": data}, workspace=workspace).raise_for_status()
    assert again.steps["step"].reused


SCRIPT = """
import os, sys, time
from headrace.engine import Workspace, component, pipeline

C4 = {3, 5}


@component
def step(x: int) -> int:
    return x + sum(C4)


@pipeline
def p(x: int = 1):
    return {"out": step(x=x)}


print("ready", flush=True)
while len(sys.argv) > 2 and not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
with Workspace(sys.argv[1]) as ws:
    run = p.submit({"x": 1}, workspace=ws)
    print(run.steps["step"].reused, run.outputs["out"].load())
"""


def test_a_script_edited_while_it_runs_is_not_cached_under_the_edit(tmp_path: Path) -> None:
    script, go, ws = tmp_path / "fd_script.py", tmp_path / "go", tmp_path / "ws"
    script.write_text(SCRIPT)
    os.utime(script, (1_700_000_000, 1_700_000_000))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(script), str(ws)]
    with subprocess.Popen([*cmd, str(go)], stdout=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        script.write_text(SCRIPT.replace("{3, 5}", "{3, 5, 8}"))  # saved while it runs
        go.touch()
        out, _ = proc.communicate(timeout=120)
    assert out.split() == ["False", "9"]  # the loaded code ran
    fresh = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True)
    assert fresh.stdout.split()[1:] == ["False", "17"]  # was "True 9": the old output reused


def test_a_worker_imports_a_module_again_when_its_file_is_gone(
    mods: Modules, workspace: Workspace
) -> None:
    flows = _flows_via_mid(mods)
    (mods.folder / f"{mods.prefix}leaf.py").unlink()  # renamed away (a branch switch)
    assert _processes(flows, workspace) == (False, 9)  # was ModuleNotFoundError in the worker


@pytest.mark.slow
def test_a_long_lived_dask_worker_follows_the_submitter_across_edits_and_reloads(
    mods: Modules, workspace: Workspace
) -> None:
    from dask.distributed import Client, LocalCluster

    from headrace.engine.execution.executors import make_executor

    flows = _flows_via_mid(mods)
    leaf = mods.prefix + "leaf"
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        executor = make_executor("dask", client=client)

        def out(x: int) -> int:
            return (
                flows.p.submit({"x": x}, workspace=workspace, executor=executor)
                .outputs["out"]
                .load()
            )

        assert out(1) == 9  # the worker imports mid and leaf from their files
        mods.write("leaf", "C4 = {3, 5, 8}\n")
        assert out(2) == 10  # edited, not reloaded: the loaded code
        importlib.reload(sys.modules[leaf])
        assert out(3) == 19  # was 11: the worker kept the file's old code
        mods.write("leaf", "C4 = {3, 5, 8, 100}\n")
        importlib.reload(sys.modules[leaf])
        assert out(4) == 120  # was 12
