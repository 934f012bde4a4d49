"""Loading ``FILE.py[:PIPELINE]``: odd file names, and errors that point at the user's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.engine.definitions.loader import load_pipeline, split_target
from headrace.engine.errors import PipelineLoadError

FLOW = (
    "from headrace.engine import component, pipeline\n\n"
    "@component\ndef one() -> int:\n    return 1\n\n"
    '@pipeline(name="p")\ndef p():\n    return {"out": one()}\n'
)


def test_a_file_whose_name_has_a_colon_is_that_file(tmp_path: Path) -> None:
    odd = tmp_path / "co:lon.py"
    odd.write_text(FLOW)
    assert split_target(str(odd)) == (odd, None)
    assert split_target(f"{odd}:p") == (odd, "p")
    assert load_pipeline(str(odd)).name == "p"
    missing = tmp_path / "gone.py"
    assert split_target(f"{missing}:p") == (missing, "p")


def test_a_syntax_error_names_the_users_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad_syntax.py"
    bad.write_text("x = 1\ndef f(:\n    pass\n")
    with pytest.raises(PipelineLoadError) as info:
        load_pipeline(str(bad))
    message = str(info.value)
    assert "SyntaxError" in message and "bad_syntax.py, line 2" in message
    assert "frozen" not in message


def test_an_error_at_import_names_the_users_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad_import.py"
    bad.write_text("import json\n\nX = 1 / 0\n")
    with pytest.raises(PipelineLoadError, match=r"ZeroDivisionError.*\(at bad_import\.py:3\)"):
        load_pipeline(str(bad))
