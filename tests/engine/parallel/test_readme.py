"""The README's parallel-run snippet builds as written (with a score.py beside it)."""

from __future__ import annotations

import re
from pathlib import Path

from headrace.engine.definitions.loader import load_pipeline

README = (Path(__file__).parents[3] / "README.md").read_text()


def test_the_readme_snippet_defines_the_step(tmp_path: Path) -> None:
    start = README.index("## Parallel-run steps (batch inference)")
    section = README[start : README.index("\n## ", start + 1)]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    (tmp_path / "score.py").write_text(
        "def init(model):\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n"
    )
    (tmp_path / "batch.py").write_text(code.group(1))
    defn = load_pipeline(str(tmp_path / "batch.py")).definition
    step = defn.steps["score"]
    assert [p.name for p in step.component.inputs] == ["data", "model", "mini_batch_size"]
    assert [p.name for p in step.component.outputs] == ["results"]
    assert [p.name for p in defn.parameters] == ["images", "model", "batch_size"]
