"""The history writes a run makes while it runs, applied many at a time.

A run's loop queues these ops on the history writer (``BatchWriter``), which applies a run of
consecutive ones together (their ``batched`` function): each op only collects its rows into
:class:`RunWrites`, which then sets every step-run row once with the columns the ops left
(later ops win, as if they ran one by one) and inserts each table's rows with a few
multi-row statements. A 1,000-step run is recorded in a handful of statements instead of
about five per step; on a 2-core machine each statement also hands the interpreter lock
back and forth with the run's loop.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .artifacts import ArtifactRecord

STEP_FIELDS = frozenset(
    {
        "status",
        "reused",
        "reused_from",
        "reason",
        "attempts",
        "started_at",
        "finished_at",
        "duration",
        "error",
        "traceback",
        "cache_key",
        "code_fp",
        "inputs",
    }
)
RUN_FIELDS = frozenset({"status", "started_at", "finished_at", "error", "tags"})

_MAX_ROWS = 500  # rows per multi-row statement (also kept under SQLite's variable limit)
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)  # UPDATE ... FROM (VALUES ...)

# (table, SQL verb, columns): the order they are applied in
_INSERTS = (
    ("step_attempts", "INSERT OR REPLACE", 9),
    ("artifacts", "INSERT OR IGNORE", 7),
    ("step_outputs", "INSERT OR REPLACE", 4),
    ("metrics", "INSERT OR REPLACE", 6),
    ("cache", "INSERT OR REPLACE", 4),
)


@dataclass
class RunWrites:
    """Rows collected from history ops, applied by :meth:`apply` in one go."""

    now: float = field(default_factory=time.time)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    metric_copies: list[tuple[str, str, str, str]] = field(default_factory=list)
    _copied_from: set[tuple[str, str]] = field(default_factory=set)
    _copied_to: set[tuple[str, str]] = field(default_factory=set)

    def set_run(self, run_id: str, fields: dict[str, Any]) -> None:
        """Set run columns.

        Raises:
            ValueError: a field that is not a run column.
        """
        _check(fields, RUN_FIELDS, "run")
        self.runs.setdefault(run_id, {}).update(fields)

    def set_step(self, run_id: str, step: str, fields: dict[str, Any]) -> None:
        """Set step-run columns (``inputs`` given as data is stored as JSON).

        Raises:
            ValueError: a field that is not a step-run column.
        """
        if "inputs" in fields and not isinstance(fields["inputs"], (str, type(None))):
            fields = {**fields, "inputs": json.dumps(fields["inputs"])}
        _check(fields, STEP_FIELDS, "step")
        self.steps.setdefault((run_id, step), {}).update(fields)

    def joins_metrics(
        self, run_id: str, step: str, logs: bool, copies_from: tuple[str, str] | None
    ) -> bool:
        """Whether a step that logs metrics (``logs``) or copies another step's can join what
        was collected: False when applying them together (inserts before copies, all copies
        at once) would not equal applying the ops in turn."""
        to = (run_id, step)
        if logs and (to in self._copied_from or to in self._copied_to):
            return False  # an earlier copy must not see (or be replaced by) these rows
        if copies_from is not None:
            if copies_from in self._copied_to or to in self._copied_from or to in self._copied_to:
                return False  # a copy of a copy, or two into one: order would matter
            self._copied_from.add(copies_from)
            self._copied_to.add(to)
        return True

    def insert(self, table: str, row: tuple[Any, ...]) -> None:
        """Insert a row into ``table`` (one of those in ``_INSERTS``)."""
        self.rows.setdefault(table, []).append(row)

    def apply(self, c: sqlite3.Connection) -> None:
        """Write everything collected, in the caller's transaction."""
        for run_id, fields in self.runs.items():
            sets = ", ".join(f"{k}=?" for k in fields)
            c.execute(f"UPDATE runs SET {sets} WHERE id=?", (*fields.values(), run_id))
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for (run_id, step), fields in self.steps.items():
            groups.setdefault(tuple(fields), []).append((run_id, step, *fields.values()))
        for names, rows in groups.items():
            _update_steps(c, names, rows)
        for table, verb, width in _INSERTS:
            if table in self.rows:
                _insert(c, f"{verb} INTO {table}", width, self.rows[table])
        if self.metric_copies:  # after the metrics: a twin of this run copies its twin's
            for chunk in _chunks(c, self.metric_copies, 4):
                c.execute(
                    "INSERT OR REPLACE INTO metrics SELECT v.column1, v.column2, m.name, m.seq, "
                    f"m.value, m.logged_at FROM ({_values(4, len(chunk))}) AS v JOIN metrics AS m "
                    "ON m.run_id = v.column3 AND m.step = v.column4",
                    [x for row in chunk for x in row],
                )


@dataclass(frozen=True)
class RunWrite:
    """A history op: ``op(connection, *args)`` applies it alone; the history writer applies
    consecutive ones together through ``batched``.

    Args:
        collect: ``collect(writes, *args)`` adds the op's rows to a :class:`RunWrites`; it
            returns False, having added nothing, when the op must be applied after the rows
            collected so far.
        name: the op's name (in errors and profiles).
    """

    collect: Callable[..., bool | None]
    name: str

    def __call__(self, c: sqlite3.Connection, *args: Any) -> None:
        writes = RunWrites()
        self.collect(writes, *args)
        writes.apply(c)

    @staticmethod
    def batched(c: sqlite3.Connection, calls: Sequence[tuple[RunWrite, tuple[Any, ...]]]) -> None:
        """Apply ``calls`` (ops with their arguments, in order) with one set of statements."""
        writes = RunWrites()
        for op, args in calls:
            if op.collect(writes, *args) is False:  # it must see what came before applied
                writes.apply(c)
                writes = RunWrites()
                op.collect(writes, *args)
        writes.apply(c)


def artifact_row(a: ArtifactRecord, now: float) -> tuple[Any, ...]:
    """The ``artifacts`` table's row for ``a``, listed at ``now``."""
    return (a.fingerprint, a.kind, a.fmt, a.uri, a.size, a.flavor, now)


_NOT_NULL = frozenset({"status", "reused"})  # columns a write may set that refuse NULL
_BINDABLE = (str, int, float, bytes, type(None))


def _check(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    """Refuse a write SQLite would refuse, before it is merged with others (where a later
    write to the same column would hide it).

    Raises:
        ValueError: no fields, an unknown field, a value SQLite cannot store, or NULL in a
            column that refuses it.
    """
    if not fields:
        raise ValueError(f"a {what} write must set at least one field")
    bad = set(fields) - allowed
    if bad:
        raise ValueError(f"unknown {what} fields {sorted(bad)}")
    for k, v in fields.items():
        if not isinstance(v, _BINDABLE):
            raise ValueError(
                f"{what} field {k!r} is a {type(v).__name__}, which SQLite cannot store"
            )
        if v is None and k in _NOT_NULL:
            raise ValueError(f"{what} field {k!r} cannot be None")


def _update_run(w: RunWrites, run_id: str, fields: dict[str, Any]) -> None:
    w.set_run(run_id, fields)


def _update_steps(
    c: sqlite3.Connection, names: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Set columns ``names`` of the step-run rows ``(run_id, step, *values)``."""
    if not _UPDATE_FROM:  # SQLite before 3.33: a statement per row
        sets = ", ".join(f"{k}=?" for k in names)
        sql = f"UPDATE step_runs SET {sets} WHERE run_id=? AND step=?"
        c.executemany(sql, [(*r[2:], r[0], r[1]) for r in rows])
        return
    sets = ", ".join(f"{k}=v.column{i + 3}" for i, k in enumerate(names))
    for chunk in _chunks(c, rows, len(names) + 2):
        c.execute(
            f"UPDATE step_runs SET {sets} FROM ({_values(len(names) + 2, len(chunk))}) AS v "
            "WHERE step_runs.run_id = v.column1 AND step_runs.step = v.column2",
            [x for row in chunk for x in row],
        )


def _insert(c: sqlite3.Connection, head: str, width: int, rows: Sequence[tuple[Any, ...]]) -> None:
    for chunk in _chunks(c, rows, width):
        c.execute(f"{head} {_values(width, len(chunk))}", [x for row in chunk for x in row])


def _chunks(c: sqlite3.Connection, rows: Sequence[Any], width: int) -> list[Sequence[Any]]:
    """``rows`` in pieces small enough for one statement (within the connection's limit on
    variables, which a SQLite build may set as low as 999)."""
    per = max(1, min(_MAX_ROWS, c.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    return [rows[i : i + per] for i in range(0, len(rows), per)]


def _values(width: int, count: int) -> str:
    """A ``VALUES`` clause of ``count`` rows of ``width`` placeholders."""
    row = "(" + ",".join("?" * width) + ")"
    return "VALUES " + ",".join([row] * count)


def _set_steps(w: RunWrites, run_id: str, updates: Sequence[tuple[str, dict[str, Any]]]) -> None:
    for step, fields in updates:
        w.set_step(run_id, step, fields)


def _finish_step(
    w: RunWrites,
    run_id: str,
    step: str,
    fields: dict[str, Any],
    outputs: Sequence[tuple[str, ArtifactRecord]] = (),
    metrics: Sequence[tuple[str, Any, float]] = (),
    cache_key: str | None = None,
    metrics_from: tuple[str, str] | None = None,
) -> bool:
    if not w.joins_metrics(run_id, step, bool(metrics), metrics_from):
        return False  # collected nothing: applied after what came before
    w.set_step(run_id, step, fields)
    for name, a in outputs:
        w.insert("artifacts", artifact_row(a, w.now))
        w.insert("step_outputs", (run_id, step, name, a.fingerprint))
    seqs: dict[str, int] = {}
    for name, value, ts in metrics:
        seqs[name] = seqs.get(name, -1) + 1
        w.insert("metrics", (run_id, step, name, seqs[name], json.dumps(value), ts))
    if metrics_from is not None:
        w.metric_copies.append((run_id, step, *metrics_from))
    if cache_key is not None:
        w.insert("cache", (cache_key, run_id, step, w.now))
    return True


def _record_attempt(
    w: RunWrites,
    run_id: str,
    step: str,
    attempt: int,
    ok: bool,
    times: tuple[float, float],
    error: str | None,
    logs: str,
    log_chars: int,
) -> None:
    w.insert("step_attempts", (run_id, step, attempt, int(ok), *times, error, logs, log_chars))


update_run_op = RunWrite(_update_run, "update_run_op")
"""``update_run_op(c, run_id, fields)``: set run columns."""

update_steps_op = RunWrite(_set_steps, "update_steps_op")
"""``update_steps_op(c, run_id, [(step, fields), ...])``: set step columns for several steps."""

finish_step_op = RunWrite(_finish_step, "finish_step_op")
"""``finish_step_op(c, run_id, step, fields, outputs=(), metrics=(), cache_key=None,
metrics_from=None)``: record a finished step with its outputs, metrics and (optionally) its
cache entry. ``metrics_from`` = (run id, step) copies that step's metrics (a reused step shows
the metrics of the run it reused)."""

record_attempt_op = RunWrite(_record_attempt, "record_attempt_op")
"""``record_attempt_op(c, run_id, step, attempt, ok, (started, finished), error, logs,
log_chars)``: record one finished attempt of a step with its (capped) output."""
