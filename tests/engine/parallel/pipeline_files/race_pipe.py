"""A pipeline file for `headrace run`: one worker over a folder (see behave.py's gate_ kind)."""

from pathlib import Path

from headrace.engine import parallel_run, pipeline

race = parallel_run(entry="../entries/behave.py", name="race", mini_batch_size=2, max_concurrency=1)


@pipeline(name="race")
def race_files(folder: Path, counter: str):
    return {"results": race(data=folder, counter=counter).outputs.results}
