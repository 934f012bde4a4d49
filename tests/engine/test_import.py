"""Importing headrace.engine does not import prefect, dask or sklearn (they load lazily)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_engine_import_does_not_pull_heavy_packages() -> None:
    code = (
        "import json, sys; import headrace.engine, headrace.engine.cli, headrace.engine.execution.runner; "
        "print(json.dumps([m for m in ('prefect', 'dask', 'distributed', 'sklearn') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
