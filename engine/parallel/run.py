"""Running a parallel-run step: plan mini-batches, score what has no committed result, assemble.

This is the step's function body, run wherever the executor runs steps. It starts its own
pool of workers, keeps the tally and the thresholds, writes the per-mini-batch report (also
when it fails), and returns the ordered table (or the output folder).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import DefinitionError, ParallelRunError, ParameterError
from ..execution.context import RunContext, get_run_context
from ..fingerprint import overlay
from ..fingerprint.digest import combine, fingerprint_value
from ..fingerprint.keys import fingerprint_input
from ..store.artifacts import ArtifactStore
from ..store.batch_reports import write_report
from .assemble import file_results, table_results
from .batches import Batch, plan_files, plan_rows, rows_locator
from .checks import data_problems
from .config import KNOB_NAMES, Knobs, ParallelSpec, knob_problems, rows_per_batch
from .entry import entry_fingerprint
from .ledger import Committed, Ledger
from .pool import Spares
from .pools import start_workers
from .progress import Progress
from .scoring import Scoring
from .sources import (
    TableInput,
    file_items,
    list_files,
    source_digests,
    source_slices,
    table_input,
)
from .worker import Setup, Task

CONTEXT_DOMAIN = b"headrace.parallel-context.v1\0"


def run_step(spec: ParallelSpec, kwargs: dict[str, Any]) -> Any:
    """The body of a parallel-run step (see the module docstring).

    Raises:
        ParameterError: a knob or ``data=`` bound to a pipeline parameter cannot work.
        ParallelRunError: a failure threshold was passed, or the entry's init() failed.
    """
    ctx = get_run_context()
    store: ArtifactStore | None = ctx._store
    if store is None:
        raise DefinitionError(f"{spec.where}: it runs only as a step of a submitted pipeline")
    knobs = spec.knobs.with_values({k: v for k, v in kwargs.items() if k in KNOB_NAMES})
    data = kwargs["data"]
    problems = knob_problems(spec.where, knobs)
    if not _is_table(data):
        problems += data_problems(spec.where, data, knobs)
    if problems:
        raise ParameterError("\n".join(problems))
    spares = start_workers(knobs.workers(), dict(spec.env))  # they start while we plan
    try:
        return _prepare(spec, knobs, ctx, store, data, kwargs, spares)
    finally:
        if spares is not None:
            spares.close()


def _prepare(
    spec: ParallelSpec,
    knobs: Knobs,
    ctx: RunContext,
    store: ArtifactStore,
    data: Any,
    kwargs: dict[str, Any],
    spares: Spares | None,
) -> Any:
    side = {n: kwargs[n] for n, _ in spec.side}
    table = _is_table(data) or knobs.input_format in ("parquet", "csv")
    key_column = "row" if table else "file"
    import cloudpickle

    try:
        side_bytes = cloudpickle.dumps(side)
    except Exception:
        _context(spec, side, key_column)  # names the side input that cannot be pickled
        raise
    setup = Setup(
        spec.entry,
        side_bytes,
        spec.arguments,
        dict(spec.env),
        store.spec(),
        "",
        ctx.run_id,
        ctx.step_name,
        key_column,
        spec.output_action == "append_row",
        ctx.regenerate_outputs,
        sys_path=tuple(sys.path),
        overlay=overlay.capture()[0],
    )
    if spares is not None:  # init() runs in the workers while the step keys and plans
        spares.prime(setup)
    context = _context(spec, side, key_column)
    setup = replace(setup, context=context)
    return _run(spec, knobs, ctx, store, Ledger(store, context), setup, data, table, spares)


def _is_table(value: Any) -> bool:
    from ..fingerprint.tables import is_table

    return is_table(value)


def _context(spec: ParallelSpec, side: dict[str, Any], key_column: str) -> str:
    """The key of everything but the items that changes results: the entry's code, the side
    inputs by content, the output action, the arguments and environment, the input kind."""
    parts = [("entry", entry_fingerprint(spec.entry, spec.arguments, spec.env, spec.where))]
    annotations = dict(spec.side)
    for name in sorted(side):
        fp = fingerprint_input(side[name], annotations.get(name))
        if fp is None:
            raise ParallelRunError(
                f"{spec.where}, side input {name!r}: it cannot be fingerprinted (it cannot be "
                "pickled), so mini-batch results cannot be keyed to it; pass a picklable "
                "value or a path"
            )
        parts.append((f"side:{name}", fp))
    knobs = (spec.output_action, spec.arguments, spec.env, key_column)
    parts.append(("knobs", fingerprint_value(knobs)))
    return combine(CONTEXT_DOMAIN, parts)


@dataclass
class _Plan:
    """The mini-batches of one run, the items' key values, and the tasks still to score.

    Attributes:
        batches: every mini-batch, reused ones included, in input order.
        names: the key column's value for every item (file names, or row numbers).
        tasks: one first attempt per mini-batch without a committed result.
        item_keys: the content key of every file item (file input).
        committed: the ledger's results of file items before this run.
    """

    batches: list[Batch]
    names: Sequence[Any]
    tasks: list[Task]
    item_keys: list[str] = field(default_factory=list)
    committed: Committed = field(default_factory=lambda: Committed({}, None))


def _run(
    spec: ParallelSpec,
    knobs: Knobs,
    ctx: RunContext,
    store: ArtifactStore,
    ledger: Ledger,
    setup: Setup,
    data: Any,
    table: bool,
    spares: Spares | None,
) -> Any:
    started = time.time()
    if table:
        plan, setup = _plan_table(knobs, data, setup, ledger, store)
    else:
        plan = _plan_files(knobs, data, ledger, setup, store)
    from ..execution.executors.prefect.progress import task_run_reporter

    reporter = task_run_reporter(ctx.step_name, f"{len(plan.names):,} items")
    progress = Progress(ctx.step_name, len(plan.names), reporter=reporter)
    scoring = Scoring(spec, knobs, setup, plan.batches, plan.names, progress, spares)
    try:
        scoring.run(plan.tasks)
    except BaseException:
        if not table:  # what did commit is found with one read next time
            _file_results(ledger, plan, scoring, setup.regenerate)
        raise
    finally:
        _log_metrics(ctx, scoring, started)
        report = scoring.report()
        write_report(store, ctx.run_id, ctx.step_name, report)
        if reporter is not None:
            reporter.table("mini-batches", report, f"every mini-batch of step {ctx.step_name}")
    failed = scoring.tally.items_failed
    if failed:  # its results stand, but the next run tries the failed mini-batches again
        ctx.uncached = (
            f"{failed:,} item{'s' * (failed != 1)} failed; the next run scores their "
            "mini-batches again"
        )
    if not table:
        results = _file_results(ledger, plan, scoring, setup.regenerate)
    if spec.output_action == "summary_only":
        return _summary_output(ctx, ledger, plan, scoring)
    if table:
        results = _table_results(ledger, plan, scoring)
    if spec.knobs.append_row_file_name:
        csv = ctx.output_dir / spec.knobs.append_row_file_name
        results.to_csv(csv, index=False)
        return results, csv
    return results


def _plan_files(
    knobs: Knobs, data: Any, ledger: Ledger, setup: Setup, store: ArtifactStore
) -> _Plan:
    folder = None if isinstance(data, (list, tuple)) or os.path.isfile(data) else str(data)
    items = file_items(list_files(data, knobs.glob), store.stat_cache(), folder)
    committed = Committed({}, None) if setup.regenerate else ledger.committed_files()
    batches = plan_files(items, int(knobs.mini_batch_size), setup.context, committed.index)
    tasks = [
        Task(
            b.id,
            1,
            b.key,
            tuple(items[p].name for p in b.positions),
            tuple(items[p].path for p in b.positions),
            tuple(items[p].key for p in b.positions),
        )
        for b in batches
        if not b.reused_from
    ]
    keys = [it.key for it in items]
    return _Plan(batches, [it.name for it in items], tasks, keys, committed)


def _plan_table(
    knobs: Knobs, data: Any, setup: Setup, ledger: Ledger, store: ArtifactStore
) -> tuple[_Plan, Setup]:
    if _is_table(data):
        frame = data if type(data).__module__.startswith("pandas") else data.to_pandas()
        nbytes = float(frame.memory_usage(deep=False, index=False).sum())
        size = rows_per_batch(knobs.mini_batch_size, nbytes / max(len(frame), 1))
        batches = plan_rows(len(frame), size)
        tasks = [
            Task(b.id, 1, start=b.start, stop=b.stop, frame=frame.iloc[b.start : b.stop])
            for b in batches
        ]
        return _Plan(batches, range(len(frame)), tasks), setup
    assert knobs.input_format is not None
    source: TableInput = table_input(data, knobs.input_format, knobs.glob)
    size = rows_per_batch(knobs.mini_batch_size, source.bytes_per_row)
    batches = plan_rows(source.rows, size)
    locators = _locators(source, batches, setup.context, store)
    found = {} if setup.regenerate else ledger.recall(locators)
    tasks = []
    for i, (b, locator) in enumerate(zip(batches, locators, strict=True)):
        if locator in found:  # committed before: known from the files, no rows read
            batches[i] = replace(b, reused_from=found[locator])
        else:
            tasks.append(Task(b.id, 1, start=b.start, stop=b.stop, locator=locator))
    return _Plan(batches, range(source.rows), tasks), replace(setup, sources=source.sources)


def _locators(
    source: TableInput, batches: list[Batch], context: str, store: ArtifactStore
) -> list[str]:
    digests = source_digests(source.sources, store.stat_cache())
    formats = [s.fmt for s in source.sources]
    return [
        rows_locator(
            context,
            [
                (formats[i], digests[i], lo, hi)
                for i, lo, hi in source_slices(source.sources, b.start, b.stop)
            ],
        )
        for b in batches
    ]


def _log_metrics(ctx: RunContext, scoring: Scoring, started: float) -> None:
    t = scoring.tally
    elapsed = max(time.time() - started, 1e-9)
    ctx.log_metrics(
        {
            "items": t.items,
            "items_failed": t.items_failed,
            "mini_batches": t.batches,
            "mini_batches_failed": t.batches_failed,
            "mini_batches_reused": scoring.reused,
            "items_per_s": round(scoring.scored_items / elapsed, 3),
        }
    )
    for name, value, _ in scoring.entry_metrics:
        ctx.log(name, value)


def _key(b: Batch, scoring: Scoring) -> str:
    return scoring.keys.get(b.id) or b.key or b.reused_from


def _table_results(ledger: Ledger, plan: _Plan, scoring: Scoring) -> Any:
    keys = {
        b.id: _key(b, scoring) for b in plan.batches if scoring.status.get(b.id) in ("ok", "reused")
    }
    return table_results(plan.batches, scoring.rows, keys, ledger)


def _file_results(ledger: Ledger, plan: _Plan, scoring: Scoring, regenerate: bool) -> Any:
    """The table, after saving the ledger's snapshot (also when the step fails).

    A mini-batch its worker found committed (by a concurrent run, or by an earlier attempt
    that outlived its timeout) is read back from the ledger: the snapshot read when the step
    planned does not have it.
    """
    rows = dict(scoring.rows)
    committed = {b.id: b.key for b in plan.batches if scoring.status.get(b.id) == "ok"}
    for b in plan.batches:
        if scoring.status.get(b.id) == "reused" and not b.reused_from:
            committed[b.id] = key = scoring.keys.get(b.id) or b.key
            rows[b.id] = ledger.read(key)
    table, snapshot = file_results(
        plan.batches,
        plan.item_keys,
        list(plan.names),
        rows,
        committed,
        plan.committed,
    )
    if snapshot is not None and (committed or regenerate or plan.committed.unindexed):
        ledger.write_snapshot(snapshot)
    return table


def _summary_output(ctx: RunContext, ledger: Ledger, plan: _Plan, scoring: Scoring) -> Path:
    out = ctx.output_dir
    for b in plan.batches:
        status = scoring.status.get(b.id)
        if status in ("ok", "reused"):
            src = ledger.out_dir(_key(b, scoring))
        else:
            src = scoring.partial_dirs.get(b.id, "")
        if src and os.path.isdir(src):
            shutil.copytree(src, out, dirs_exist_ok=True)
    return out
