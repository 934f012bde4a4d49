"""One worker of a parallel-run step: init() once, then score mini-batches and commit each result.

A :class:`Session` is the worker's state (the started entry, the ledger); it runs in a
worker process of the local pool (``python -m headrace.engine.parallel.worker FD``) or
inside a Dask worker process, where one session per step is kept for every mini-batch.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..execution.context import RunContext, activate, deactivate
from ..execution.worker import open_store
from ..fingerprint.overlay import Overlay, install
from ..fingerprint.tables import fingerprint_table
from .batches import table_batch_key
from .entry import EntryRef, load_entry
from .invocation import argv, exits_explained, start_entry
from .ledger import Ledger
from .output import ITEM, normalize
from .sources import RowReader, TableSource


@dataclass(frozen=True)
class Setup:
    """Everything a worker needs before its first mini-batch.

    Attributes:
        entry: the entry to load.
        side: the side inputs (name → value), pickled.
        arguments: ``sys.argv[1:]`` while the entry is imported and init() runs.
        env: environment variables to set first.
        store: the artifact store's spec.
        context: the step's context key (the ledger folder).
        run_id: the run.
        step: the step name.
        key_column: "file" or "row".
        keep_rows: append_row (True) or summary_only (False).
        regenerate: ignore committed results (they are replaced).
        sources: the files of a table input (rows are read here).
        sys_path: the submitting process's ``sys.path``.
        overlay: the submitting process's modules edited since their import, as it loaded
            them (imported from that source here, so the entry runs the code its key
            describes).
    """

    entry: EntryRef
    side: bytes
    arguments: tuple[str, ...]
    env: dict[str, str]
    store: dict[str, Any]
    context: str
    run_id: str
    step: str
    key_column: str
    keep_rows: bool
    regenerate: bool = False
    sources: tuple[TableSource, ...] = ()
    sys_path: tuple[str, ...] = ()
    overlay: Overlay = field(default_factory=Overlay)


@dataclass(frozen=True)
class Task:
    """One attempt at one mini-batch.

    Attributes:
        batch: the mini-batch id.
        attempt: 1, 2, ...
        key: the content key (file input); "" for a table (computed from the rows read).
        names: the ``file`` values of its items (file input).
        paths: their absolute paths (file input).
        item_keys: their content keys (file input; stored with the result).
        start: first row (table input).
        stop: one past the last row (table input).
        frame: the rows themselves, for a table held in memory.
        locator: where a table mini-batch's rows come from in its files (``rows_locator``);
            its committed key is remembered under it.
    """

    batch: int
    attempt: int
    key: str = ""
    names: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    item_keys: tuple[str, ...] = ()
    start: int = 0
    stop: int = 0
    frame: Any = None
    locator: str = ""


@dataclass
class Outcome:
    """What one attempt did (sent back to the step).

    Attributes:
        batch: the mini-batch id.
        attempt: the attempt number.
        status: "ok" (committed), "partial" (some items failed), "reused", "failed".
        key: the mini-batch's content key.
        failed: positions of items without a result.
        named: whether ``failed`` is exact (run() returned the key column).
        rows: the result rows (``__pos``, file inputs ``__item``, then run()'s columns) of a
            file mini-batch, or of a partial table mini-batch (committed table rows are read
            back from the ledger).
        error: "Error: message" when it failed.
        traceback: the entry's traceback when it failed.
        duration: seconds in run().
        worker: the worker's pid.
        out_dir: the files a partial summary_only mini-batch wrote (kept in staging).
        metrics: what the entry logged, as (name, value, time).
    """

    batch: int
    attempt: int
    status: str
    key: str = ""
    failed: tuple[int, ...] = ()
    named: bool = True
    rows: Any = None
    error: str = ""
    traceback: str = ""
    duration: float = 0.0
    worker: str = ""
    out_dir: str = ""
    metrics: list[tuple[str, Any, float]] = field(default_factory=list)


class Session:
    """A started entry: ``process`` scores mini-batches, ``close`` calls shutdown().

    Args:
        setup: the step's setup.
        worker: how reports name this worker (host:pid by default).

    Raises:
        BaseException: whatever importing the entry or its init() raised.
    """

    def __init__(self, setup: Setup, worker: str = ""):
        self.setup = setup
        self.worker = worker or f"{os.uname().nodename}:{os.getpid()}"
        os.environ.update(setup.env)
        for path in reversed(setup.sys_path):
            if path not in sys.path:
                sys.path.insert(0, path)
        install(setup.overlay)
        self.store = open_store(setup.store)
        self.ledger: Ledger | None = None
        self.reader: RowReader | None = None
        self._scratch = ""
        if setup.context:
            self.configure(setup)
        side = pickle.loads(setup.side)
        label = setup.entry.label
        ctx = self._context()
        token = activate(ctx)
        try:
            with argv(Path(label).name, setup.arguments), exits_explained():
                self.entry = load_entry(setup.entry)
                self.scorer = start_entry(self.entry, side, label)
        finally:
            deactivate(token)
            _discard(ctx)

    def configure(self, setup: Setup) -> None:
        """Take the step's full setup (a worker started early gets its context and table
        sources here, once the step has planned)."""
        self.setup = setup
        self.ledger = Ledger(self.store, setup.context)
        self.reader = RowReader(setup.sources) if setup.sources else None

    def _context(self, output_dir: str | None = None) -> RunContext:
        parent = self.store.output_parent
        ctx = RunContext(run_id=self.setup.run_id, step_name=self.setup.step, _output_parent=parent)
        if output_dir is not None:
            ctx._output_dir = Path(output_dir)
        return ctx

    def process(self, task: Task) -> Outcome:
        """Score one mini-batch (or find its committed result); never raises for entry errors."""
        started = time.perf_counter()
        key = task.key
        assert self.ledger is not None, "process() before configure()"
        try:
            batch, keys = self._materialize(task)
            if not key:
                key = table_batch_key(self.setup.context, fingerprint_table(_rows(batch.table)))
            if not self.setup.regenerate and self.ledger.has(key):
                if task.locator:
                    self.ledger.remember(task.locator, key)
                return Outcome(task.batch, task.attempt, "reused", key, worker=self.worker)
            if batch.value is None:  # rows read from files: a DataFrame only when scored
                import pandas as pd

                batch.value = batch.table.to_pandas()
                batch.value.index = pd.RangeIndex(task.start, task.stop)
            return self._score(task, key, batch.value, keys, started)
        except Exception as exc:
            return Outcome(
                task.batch,
                task.attempt,
                "failed",
                key,
                error=f"{type(exc).__name__}: {exc}",
                traceback=entry_traceback(exc),
                duration=time.perf_counter() - started,
                worker=self.worker,
            )

    def _materialize(self, task: Task) -> tuple[_Batch, Sequence[Any]]:
        if task.paths or not (task.frame is not None or self.reader is not None):
            return _Batch([Path(p) for p in task.paths], None), list(task.names)
        import pandas as pd
        import pyarrow as pa

        if task.frame is None:
            assert self.reader is not None
            return _Batch(None, self.reader.read(task.start, task.stop)), range(
                task.start, task.stop
            )
        frame = task.frame
        table = pa.Table.from_pandas(frame, preserve_index=False)
        frame.index = pd.RangeIndex(task.start, task.stop)
        return _Batch(frame, table), range(task.start, task.stop)

    def _score(
        self, task: Task, key: str, value: Any, keys: Sequence[Any], started: float
    ) -> Outcome:
        summary = not self.setup.keep_rows
        out_dir = self._out_dir(summary)
        ctx = self._context(out_dir)
        token = activate(ctx)
        try:
            returned = self.scorer.score(value)
        finally:
            deactivate(token)
        try:
            label = self.setup.entry.label
            scored = normalize(returned, self.setup.key_column, keys, True, label, list(task.paths))
            rows = scored.rows
            if task.item_keys:
                rows.insert(1, ITEM, [task.item_keys[p] for p in rows["__pos"]])
            if summary:
                rows = rows[[c for c in rows.columns if c in ("__pos", ITEM)]]
            status = "partial" if scored.failed else "ok"
            kept = ""
            if status == "ok":
                assert self.ledger is not None
                self.ledger.commit(key, rows, out_dir if summary else None)
                if task.locator:
                    self.ledger.remember(task.locator, key)
            elif summary:  # not committed (it is scored again next run), but its files count
                kept = tempfile.mkdtemp(
                    prefix=f"out-{os.getpid()}-partial-", dir=self._out_parent()
                )
                shutil.copytree(out_dir, kept, dirs_exist_ok=True)
            return Outcome(
                task.batch,
                task.attempt,
                status,
                key,
                failed=scored.failed,
                named=scored.named,
                # a table's committed rows are read back one mini-batch at a time (bounded
                # memory); a file input's are small and saved the step a read per batch
                rows=rows if status == "partial" or task.item_keys else None,
                duration=time.perf_counter() - started,
                worker=self.worker,
                out_dir=kept,
                metrics=list(ctx.metrics),
            )
        finally:
            if summary or os.listdir(out_dir):
                shutil.rmtree(out_dir, ignore_errors=True)
                self._scratch = ""

    def _out_dir(self, summary: bool) -> str:
        """An empty folder for the mini-batch's files: a fresh one for summary_only (it is
        committed), else the worker's scratch folder, emptied after any batch that wrote."""
        if summary or not self._scratch:
            path = tempfile.mkdtemp(prefix=f"out-{os.getpid()}-", dir=self._out_parent())
            if summary:
                return path
            self._scratch = path
        return self._scratch

    def _out_parent(self) -> str:
        parent = self.store.output_parent
        parent.mkdir(parents=True, exist_ok=True)
        return str(parent)

    def close(self) -> None:
        """Call the entry's shutdown()."""
        try:
            self.scorer.close()
        finally:
            if self._scratch:
                shutil.rmtree(self._scratch, ignore_errors=True)


@dataclass
class _Batch:
    value: Any  # what run() receives
    table: Any  # the rows as Arrow (table input), for the content key


def _discard(ctx: RunContext) -> None:
    if ctx._output_dir is not None:
        shutil.rmtree(ctx._output_dir, ignore_errors=True)


def entry_traceback(exc: BaseException) -> str:
    """The traceback of an entry error, without this module's frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def main(fd: int) -> None:
    """A local pool worker: set up, report ready (or init's traceback), score until told to stop.

    A worker started early gets the step's setup without its context first (so the entry is
    imported and init() runs while the step plans), then the full setup as a message.
    """
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    parent, started = pickle.loads(conn.recv_bytes())
    from ..execution.executors.orphans import die_with_parent

    die_with_parent(parent, started)
    try:
        setup = pickle.loads(conn.recv_bytes())
    except (EOFError, OSError):
        os._exit(0)  # a spare the step did not need
    try:
        session = Session(setup)
    except BaseException as exc:
        conn.send(("init_failed", f"{type(exc).__name__}: {exc}", entry_traceback(exc)))
        conn.close()
        os._exit(3)
    conn.send(("ready", session.worker, ""))
    _serve(conn, session)
    _exit(conn)


def _serve(conn: Any, session: Session) -> None:
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            os._exit(1)  # the step is gone
        if task is None:
            break
        if isinstance(task, Setup):
            session.configure(task)
            continue
        conn.send(("done", session.process(task), ""))
    session.close()


def _exit(conn: Any) -> None:
    """Tell the step shutdown() returned, then end without tearing the interpreter down
    (atexit handlers run; freeing every module's objects would only keep the step waiting)."""
    import atexit

    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send(("closed", "", ""))
        conn.close()
    finally:
        os._exit(0)


if __name__ == "__main__":  # run as the module itself, so pickled classes come from it
    from headrace.engine.parallel.worker import main as _main

    _main(int(sys.argv[1]))


def _rows(table: Any) -> Any:
    """The mini-batch's rows as their key sees them: without the range index pandas noted
    in the file's schema (its stop grows when rows are appended to the file, and the
    mini-batch gets its own index anyway), so the same rows have the same key."""
    meta = table.schema.metadata or {}
    raw = meta.get(b"pandas")
    if raw is None:
        return table
    import json

    try:
        info = json.loads(raw)
    except ValueError:
        return table
    index = info.get("index_columns")
    if not isinstance(index, list):
        return table
    info["index_columns"] = [
        c for c in index if not (isinstance(c, dict) and c.get("kind") == "range")
    ]
    return table.replace_schema_metadata({**meta, b"pandas": json.dumps(info).encode()})
