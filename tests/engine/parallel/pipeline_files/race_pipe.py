"""A pipeline file for `headrace run`: one worker over a folder (a `slow_` file takes 4 s)."""

from pathlib import Path

from headrace.engine import parallel_run, pipeline

race = parallel_run(entry="../entries/behave.py", name="race", mini_batch_size=2, max_concurrency=1)


@pipeline(name="race")
def race_files(folder: Path, counter: str):
    return {"results": race(data=folder, counter=counter).outputs.results}
