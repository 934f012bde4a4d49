"""A summary_only entry: writes one file per item into the run context's output_dir."""

from headrace.engine import get_run_context


def init():
    pass


def run(mini_batch):
    out = get_run_context().output_dir
    for p in mini_batch:
        (out / f"{p.stem}.out").write_text(p.read_text().upper())
    return [p.name for p in mini_batch]
