"""The overlay: modules edited since their import, imported elsewhere from the source that ran."""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from headrace.engine.fingerprint import overlay


def _edit(path: Path, text: str) -> None:
    path.write_text(text)
    os.utime(path, (1_700_000_100, 1_700_000_100))


def test_only_a_module_edited_since_its_import_is_captured_with_the_source_that_ran(
    module_file,
) -> None:
    name, path = module_file
    importlib.import_module(name)
    assert name not in {s.name for s in overlay.capture()[0].modules}
    _edit(path, "K = {1, 2, 3}\n")
    shipped = {s.name: s for s in overlay.capture()[0].modules}
    assert shipped[name].source == b"K = {1, 2}\n" and shipped[name].origin == str(path)
    assert not shipped[name].package
    _edit(path, "K = {1, 2}\n")  # saved back as it was: nothing to ship
    assert name not in {s.name for s in overlay.capture()[0].modules}


def test_installing_in_the_process_that_captured_changes_nothing(module_file) -> None:
    name, path = module_file
    module = importlib.import_module(name)
    _edit(path, "K = {1, 2, 3}\n")
    finders = list(sys.meta_path)
    overlay.install(overlay.capture()[0])  # a Dask cluster with processes=False does this
    assert sys.meta_path == finders and sys.modules[name] is module


RECEIVER = """
import linecache, pickle, sys, types
sys.path.insert(0, sys.argv[2])
from headrace.engine.fingerprint import overlay
first, second = pickle.load(open(sys.argv[1], "rb"))
ext = sys.modules["ov_ext"] = types.ModuleType("ov_ext")  # a compiled extension of the user's
ext.__file__ = sys.argv[2] + "/ov_ext.cpython-311-x86_64-linux-gnu.so"
import {name}  # loaded from the file before the first task: dropped and imported again
overlay.install(first)
import {name}
print(sorted({name}.K), linecache.getline({name}.__file__, 1).strip())
overlay.install(second)  # the sender reloaded it: the file's code again
import {name}
print(sorted({name}.K), sys.modules["ov_ext"] is ext, linecache.getline({name}.__file__, 1).strip())
"""


def test_another_process_imports_the_shipped_source_until_it_is_no_longer_shipped(
    module_file, tmp_path: Path
) -> None:
    name, path = module_file
    importlib.import_module(name)
    _edit(path, "K = {1, 2, 3}\n")
    shipped = overlay.capture()[0]
    importlib.reload(sys.modules[name])
    payload = tmp_path / "overlays.pickle"
    payload.write_bytes(pickle.dumps((shipped, overlay.capture()[0])))
    script = tmp_path / "receiver.py"
    script.write_text(textwrap.dedent(RECEIVER).replace("{name}", name))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(script), str(payload), str(path.parent)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, timeout=60)
    # Tracebacks show the lines that ran; extensions are never dropped (some load only once).
    assert out.stdout.splitlines() == ["[1, 2] K = {1, 2}", "[1, 2, 3] True K = {1, 2, 3}"]


NAMESPACE_RECEIVER = """
import importlib, os, sys
sys.path.insert(0, sys.argv[1])
from headrace.engine.fingerprint import overlay
sub = os.path.join(sys.argv[1], "ovns", "sub.py")
import ov_user
print(ov_user.f())
with open(sub, "w") as f:
    f.write("V = 2\\n")  # changed since this process loaded it, and not shipped
os.utime(sub, (1_700_000_100, 1_700_000_100))
overlay.install(overlay.Overlay((), ("another process", 1)))
importlib.invalidate_caches()
import ov_user
print(ov_user.f())
"""


def test_a_dropped_submodule_of_a_kept_namespace_package_is_imported_again(
    tmp_path: Path,
) -> None:
    """The namespace package (no file) stays; its attribute must not hand out the old one."""
    (tmp_path / "ovns").mkdir()
    (tmp_path / "ovns" / "sub.py").write_text("V = 1\n")
    (tmp_path / "ov_user.py").write_text("from ovns import sub\n\n\ndef f():\n    return sub.V\n")
    for path in (tmp_path / "ovns" / "sub.py", tmp_path / "ov_user.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    script = tmp_path / "receiver.py"
    script.write_text(NAMESPACE_RECEIVER)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(script), str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, timeout=60)
    assert out.stdout.split() == ["1", "2"]  # was 1, 1
