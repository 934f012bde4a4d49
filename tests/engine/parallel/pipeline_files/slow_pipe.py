"""A pipeline file for `headrace run`: a slow parallel-run step over a folder."""

from pathlib import Path

from headrace.engine import parallel_run, pipeline

slow = parallel_run(entry="../entries/slow.py", name="slow", mini_batch_size=2, max_concurrency=2)


@pipeline(name="slow-files")
def slow_files(folder: Path, counter: str, delay: float = 0.25):
    return {"results": slow(data=folder, counter=counter, delay=delay).outputs.results}
