"""A parallel-run step's configuration (Azure's ParallelRunConfig): its knobs, checked with
one-line fixes, and the spec of what the step runs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .entry import EntryRef

OUTPUT_ACTIONS = ("append_row", "summary_only")
INPUT_FORMATS = ("parquet", "csv", "files")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20}
_UNITS["GIB"] = 2**30


@dataclass(frozen=True)
class Knobs:
    """How a parallel-run step splits its input, tolerates failures and scales.

    Attributes:
        mini_batch_size: files per mini-batch (file input); rows (int) or about a size such
            as "1MB" (table input).
        error_threshold: failed items tolerated over the whole step; -1 means any number.
        allowed_failed_count: failed mini-batches tolerated; -1 means any number.
        allowed_failed_percent: failed mini-batches tolerated in percent, checked at the end.
        run_max_try: attempts per mini-batch.
        run_invocation_timeout: seconds one ``run(mini_batch)`` may take.
        max_concurrency: worker processes; None means the usable cores.
        glob: for a folder input, only files matching this pattern (``*.png``, ``**/*.csv``).
        input_format: "parquet" or "csv" makes a file or folder a table input; "files"
            keeps Parquet/CSV files a file input (each file one item).
        append_row_file_name: also write the results as a CSV (with a header) of this name.
    """

    mini_batch_size: int | str = 10
    error_threshold: int = -1
    allowed_failed_count: int = -1
    allowed_failed_percent: float = 100
    run_max_try: int = 3
    run_invocation_timeout: float = 60
    max_concurrency: int | None = None
    glob: str | None = None
    input_format: str | None = None
    append_row_file_name: str | None = None

    def with_values(self, values: dict[str, Any]) -> Knobs:
        """A copy with some knobs replaced (those given at the call, or bound at run time)."""
        return replace(self, **values)

    def workers(self) -> int:
        """How many worker processes to start."""
        if self.max_concurrency is not None:
            return int(self.max_concurrency)
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)


KNOB_NAMES = tuple(f.name for f in fields(Knobs))


def parse_size(text: str) -> int | None:
    """Bytes for a size such as "1MB", "512KB", "2.5GB" (decimal; KiB/MiB/GiB binary), or None."""
    found = _SIZE.match(text)
    if not found or found.group(2).upper() not in _UNITS:
        return None
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def _zero(size: str) -> bool:
    """A row count of zero given as text ("0", " 00 ")."""
    return size.strip().isdigit() and int(size) < 1


def knob_problems(where: str, knobs: Knobs, fixed: frozenset[str] = frozenset()) -> list[str]:
    """Every knob value that cannot work, each naming the argument and the fix.

    Args:
        where: "parallel_run step 'score'": how messages name the step.
        knobs: the values to check.
        fixed: names whose values are not known yet (bound to a pipeline parameter).
    """
    problems: list[str] = []

    def bad(name: str, why: str) -> None:
        if name not in fixed:
            problems.append(f"{where}, argument {name}={getattr(knobs, name)!r}: {why}")

    size = knobs.mini_batch_size
    if isinstance(size, bool) or not isinstance(size, (int, str)):
        bad("mini_batch_size", "give a whole number of items (10) or a size such as '1MB'")
    elif isinstance(size, int) and size < 1 or isinstance(size, str) and _zero(size):
        bad("mini_batch_size", "a mini-batch needs at least one item; give a number >= 1")
    elif isinstance(size, str) and not size.strip().isdigit():
        parsed = parse_size(size)
        found = _SIZE.match(size)
        if found is not None and not found.group(2):  # "1.5": rows are whole, bytes need a unit
            bad(
                "mini_batch_size",
                f"{size!r} has no unit; give rows as a whole number (10) or a size with a "
                "unit such as '1MB'",
            )
        elif parsed is None:
            bad(
                "mini_batch_size",
                "is not a size; give rows as a whole number (10) or a size with a unit "
                "B, KB, MB, GB, KiB, MiB or GiB (e.g. '1MB')",
            )
        elif parsed < 1:
            bad("mini_batch_size", "give a size of at least one byte, e.g. '1MB'")
    for name in ("error_threshold", "allowed_failed_count"):
        value = getattr(knobs, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            bad(name, "give a whole number >= 0, or -1 for any number")
    pct = knobs.allowed_failed_percent
    if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
        bad("allowed_failed_percent", "give a percentage between 0 and 100")
    tries = knobs.run_max_try
    if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
        bad("run_max_try", "give a whole number of attempts >= 1")
    timeout = knobs.run_invocation_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        bad("run_invocation_timeout", "give a number of seconds > 0")
    conc = knobs.max_concurrency
    if conc is not None and (isinstance(conc, bool) or not isinstance(conc, int) or conc < 1):
        bad("max_concurrency", "give a number of worker processes >= 1, or None for the cores")
    if knobs.input_format is not None and knobs.input_format not in INPUT_FORMATS:
        bad("input_format", f"choose one of {', '.join(map(repr, INPUT_FORMATS))}")
    file_name = knobs.append_row_file_name
    if file_name is not None and (
        not isinstance(file_name, str) or not file_name or "/" in file_name
    ):
        bad("append_row_file_name", "give a plain file name such as 'results.csv'")
    return problems


def rows_per_batch(size: int | str, bytes_per_row: float) -> int:
    """Rows in one mini-batch of a table input: ``size`` rows, or about ``size`` bytes."""
    if isinstance(size, int) or size.strip().isdigit():
        return int(size)
    parsed = parse_size(size)
    assert parsed is not None  # checked before
    return max(1, int(parsed / max(bytes_per_row, 1e-9)))


@dataclass(frozen=True)
class ParallelSpec:
    """What a parallel-run step does, apart from its inputs.

    Attributes:
        name: the step's component name.
        entry: the entry.
        knobs: the knobs as given to ``parallel_run``.
        output_action: "append_row" or "summary_only".
        arguments: ``sys.argv[1:]`` for the entry while init() runs.
        env: environment variables for the workers.
        side: (name, annotation) of each side input.
    """

    name: str
    entry: EntryRef
    knobs: Knobs
    output_action: str
    arguments: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    side: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def where(self) -> str:
        """How messages name the step."""
        return f"parallel_run step {self.name!r}"
