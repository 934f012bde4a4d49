import os
import time
from pathlib import Path

from headrace.engine import component, get_run_context, pipeline


@component(allow_reuse=False)
def write_slowly(go: str) -> Path:
    out = get_run_context().output_dir / "parts"
    out.mkdir()
    for i in range(3):
        (out / f"part{i}.txt").write_text(f"part {i}")
    old = time.time() - 7200  # nothing in it changed for two hours, as gc sees it
    for p in [out, *out.iterdir(), out.parent]:
        os.utime(p, (old, old))
    Path(go + ".ready").write_text("")
    while not Path(go).exists():
        time.sleep(0.05)
    (out / "part3.txt").write_text("part 3")
    return out


@pipeline
def slow(go: str):
    return {"parts": write_slowly(go=go)}
