"""The import watcher: each user module's file as it was when the module was loaded."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from headrace.engine.fingerprint import loads


def test_an_import_notes_the_file_and_an_edit_does_not(module_file) -> None:
    name, path = module_file
    module = importlib.import_module(name)
    at_import = loads.file_stat(str(path))
    entry = loads.loaded(module)
    assert entry is not None and entry.stat == at_import
    assert loads.edited_since_load(module, at_import) is False
    path.write_text("K = {1, 2, 3}\n")  # edited, not reloaded
    assert loads.loaded(module) == entry
    assert loads.edited_since_load(module, loads.file_stat(str(path))) is True


def test_a_file_saved_again_unchanged_is_not_edited(module_file) -> None:
    name, path = module_file
    module = importlib.import_module(name)
    path.write_text(path.read_text())  # an editor's save: a new mtime, the same bytes
    os.utime(path, (1_700_000_100, 1_700_000_100))
    assert loads.edited_since_load(module, loads.file_stat(str(path))) is False


def test_a_reload_notes_the_file_again(module_file) -> None:
    name, path = module_file
    module = importlib.import_module(name)
    path.write_text("K = {1, 2, 3}\n")
    importlib.reload(module)
    assert {1, 2, 3} == module.K
    entry = loads.loaded(module)
    assert entry is not None and entry.stat == loads.file_stat(str(path))
    assert entry.digest == loads.content_digest(str(path))


def test_a_module_made_in_code_is_not_known() -> None:
    module = type(sys)("made_in_code")
    assert loads.loaded(module) is None
    assert loads.edited_since_load(module, None) is None


def test_installed_and_standard_library_modules_are_not_noted() -> None:
    import json

    import numpy

    assert loads.loaded(json) is None
    assert loads.loaded(numpy) is None


def test_watching_twice_installs_one_watcher() -> None:
    loads.watch()
    loads.watch()
    assert sum(isinstance(f, loads._Watcher) for f in sys.meta_path) == 1


def test_a_failed_import_still_raises_the_usual_error() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        importlib.import_module("no_such_module_here")


def test_modules_imported_before_headrace_are_noted_when_headrace_is_imported(
    tmp_path: Path,
) -> None:
    (tmp_path / "early_cfg.py").write_text("K = 1\n")
    script = textwrap.dedent(
        """
        import early_cfg
        from headrace.engine.fingerprint import loads
        import headrace.engine
        entry = loads.loaded(early_cfg)
        print(entry is not None, entry.stat == loads.file_stat(early_cfg.__file__))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True"]


def test_a_legacy_finder_ahead_of_the_path_finder_still_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.abc
    import importlib.machinery

    class Legacy:  # find_module only, as finders written before Python 3.4 are
        def find_module(self, name, path=None):
            return self if name == "legacy_found" else None

        def load_module(self, name):
            module = sys.modules[name] = type(sys)(name)
            module.WHO = "legacy finder"
            return module

    (tmp_path / "legacy_found.py").write_text("WHO = 'file'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    at = next(i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder)
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path[:at], Legacy(), *sys.meta_path[at:]])
    try:
        assert importlib.import_module("legacy_found").WHO == "legacy finder"
    finally:
        sys.modules.pop("legacy_found", None)


def test_a_reload_that_raises_leaves_the_module_untrusted(module_file) -> None:
    name, path = module_file
    module = importlib.import_module(name)
    path.write_text("raise RuntimeError('half-edited')\nK = {1, 2, 3}\n")
    with pytest.raises(RuntimeError, match="half-edited"):
        importlib.reload(module)
    assert {1, 2} == module.K  # the old value still runs, though the file says otherwise
    entry = loads.loaded(module)
    assert entry is not None and not entry.known
    assert loads.edited_since_load(module, loads.file_stat(str(path))) is True
    path.write_text("K = {1, 2, 3}\n")
    importlib.reload(module)  # a reload that runs to the end is trusted again
    assert loads.edited_since_load(module, loads.file_stat(str(path))) is False


def test_two_module_objects_of_one_name_are_noted_apart(module_file) -> None:
    name, path = module_file
    first = importlib.import_module(name)
    sys.modules.pop(name)
    path.write_text("K = {1, 2, 3}\n")
    second = importlib.import_module(name)  # a second object: the first is still held
    assert first is not second
    assert loads.edited_since_load(first, loads.file_stat(str(path))) is True
    assert loads.edited_since_load(second, loads.file_stat(str(path))) is False


def test_a_file_loaded_by_path_is_noted_when_tracked(tmp_path: Path) -> None:
    path = tmp_path / "by_path.py"
    path.write_text("K = {1, 2}\n")
    spec = importlib.util.spec_from_file_location(f"bp_{uuid.uuid4().hex[:8]}", path)
    assert spec is not None and spec.loader is not None
    loads.track(spec)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert loads.edited_since_load(module, loads.file_stat(str(path))) is False
    path.write_text("K = {1, 2, 3}\n")
    assert loads.edited_since_load(module, loads.file_stat(str(path))) is True


def test_headrace_load_pipeline_notes_the_pipeline_file(tmp_path: Path) -> None:
    from headrace.engine.definitions.loader import load_pipeline

    path = tmp_path / "flow_noted.py"
    path.write_text(
        "from headrace.engine import component, pipeline\n\n"
        "@component\ndef one() -> int:\n    return 1\n\n"
        '@pipeline\ndef p():\n    return {"out": one()}\n'
    )
    module = sys.modules[load_pipeline(f"{path}:p").fn.__module__]
    try:
        entry = loads.loaded(module)
        assert entry is not None and entry.known
        assert entry.digest == loads.content_digest(str(path))
    finally:
        sys.modules.pop(module.__name__, None)


def test_bytecode_older_than_an_edit_in_the_same_second_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    name = f"pyc_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    second = 1_700_000_000 * 10**9
    path.write_text("K = 1111\n")
    os.utime(path, ns=(second + 100_000_000, second + 100_000_000))
    importlib.invalidate_caches()
    assert importlib.import_module(name).K == 1111
    sys.modules.pop(name)
    pyc = importlib.util.cache_from_source(str(path))
    os.utime(pyc, ns=(second + 300_000_000, second + 300_000_000))  # written just after
    path.write_text("K = 2222\n")  # the same size, saved again within that second
    os.utime(path, ns=(second + 500_000_000, second + 500_000_000))
    try:
        assert importlib.import_module(name).K == 2222  # Python alone takes the .pyc: 1111
    finally:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()
    assert importlib.import_module(name).K == 2222
    sys.modules.pop(name, None)


def test_a_module_loaded_before_headrace_and_changed_since_the_start_is_untrusted(
    tmp_path: Path,
) -> None:
    import time

    path = tmp_path / "early.py"
    path.write_text("K = {1, 2}\n")
    names = []
    for _ in range(2):
        spec = importlib.util.spec_from_file_location(f"early_{uuid.uuid4().hex[:8]}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # loaded without headrace seeing it
        names.append((spec.name, module))
    edited_now, started_now = names
    loads.note_loaded_before([edited_now], lambda: 0)  # the file changed after the start
    loads.note_loaded_before([started_now], time.time_ns)  # the file predates the start
    entry = loads.loaded(edited_now[1])
    assert entry is not None and not entry.known
    assert loads.edited_since_load(edited_now[1], loads.file_stat(str(path))) is True
    assert loads.edited_since_load(started_now[1], loads.file_stat(str(path))) is False


def test_the_process_start_is_the_one_the_system_reports() -> None:
    import time

    import psutil

    started = loads._process_start_ns() / 1e9
    assert started <= time.time()
    assert abs(started - psutil.Process().create_time()) < 1.5


def test_a_module_loaded_before_headrace_over_stale_bytecode_is_untrusted(
    tmp_path: Path,
) -> None:
    import py_compile

    path = tmp_path / f"early_{uuid.uuid4().hex[:8]}.py"
    second = 1_700_000_000 * 10**9
    path.write_text("K = 1111\n")
    os.utime(path, ns=(second + 100_000_000, second + 100_000_000))
    pyc = py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)))
    os.utime(pyc, ns=(second + 300_000_000, second + 300_000_000))  # written just after
    path.write_text("K = 2222\n")  # the same size, saved again within that second
    os.utime(path, ns=(second + 500_000_000, second + 500_000_000))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # Python takes the bytecode for current: the old code
    assert module.K == 1111
    loads.note_loaded_before([(spec.name, module)], lambda: 2 * second)  # predates the start
    entry = loads.loaded(module)
    assert entry is not None and not entry.known


def test_an_edit_a_second_after_the_start_is_after_the_import_on_linux() -> None:
    if not os.path.exists("/proc/self/stat"):
        pytest.skip("the start time is read from /proc on Linux only")
    slack = loads._edits_before_import_until() - loads._process_start_ns()
    assert 0 < slack < 200_000_000  # a clock tick or so, not psutil's two seconds


def test_a_file_saved_again_unchanged_is_compared_by_its_stat_from_then_on(
    module_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, path = module_file
    monkeypatch.setattr(loads, "_RACY_NS", -(10**12))  # as if the touch were seconds ago
    module = importlib.import_module(name)
    os.utime(path, (1_700_000_500, 1_700_000_500))  # touched: a checkout round trip
    now = loads.file_stat(str(path))
    assert loads.edited_since_load(module, now) is False
    entry = loads.loaded(module)
    assert entry is not None and entry.stat == now  # the bytes are not read again


def test_a_recent_touch_is_hashed_again_next_time(module_file) -> None:
    """Within the racy window another write could share the stat: the bytes decide."""
    name, path = module_file
    module = importlib.import_module(name)
    os.utime(path, (1_700_000_500, 1_700_000_500))  # just now, so its ctime is now
    now = loads.file_stat(str(path))
    assert loads.edited_since_load(module, now) is False
    entry = loads.loaded(module)
    assert entry is not None and entry.stat != now
    path.write_text("K = {9, 9}\n")  # the same size, set back to the same mtime
    os.utime(path, (1_700_000_500, 1_700_000_500))
    assert loads.edited_since_load(module, loads.file_stat(str(path))) is True
