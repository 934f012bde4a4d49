"""PURE: splitting items into mini-batches, their content keys, and the failure thresholds.

Nothing here reads a file or a clock: plans, keys and verdicts come from plain values, so
they are tested without processes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..fingerprint.digest import combine
from .config import Knobs

BATCH_DOMAIN = b"headrace.parallel-batch.v1\0"
LOCATOR_DOMAIN = b"headrace.parallel-rows-locator.v1\0"


@dataclass(frozen=True)
class Item:
    """One file of a file input.

    Attributes:
        name: what the ``file`` column shows (the path relative to the folder, or as given).
        path: the absolute path a worker opens.
        key: the content key (name and content fingerprint).
    """

    name: str
    path: str
    key: str


@dataclass(frozen=True)
class Batch:
    """One mini-batch of the plan.

    Attributes:
        id: its number, in input order (0, 1, ...).
        positions: item indices (file input) in input order.
        start: first row (table input).
        stop: one past the last row (table input).
        key: the content key of a file mini-batch (a table's is computed where rows are read).
        reused_from: the committed mini-batch whose results it reuses, or "".
    """

    id: int
    positions: tuple[int, ...] = ()
    start: int = 0
    stop: int = 0
    key: str = ""
    reused_from: str = ""

    @property
    def size(self) -> int:
        """How many items it holds."""
        return len(self.positions) if self.positions else self.stop - self.start


def item_key(name: str, content: str) -> str:
    """The key of one file: its name and its content fingerprint."""
    return combine(BATCH_DOMAIN, [(f"item:{name}", content)])


def batch_key(context: str, item_keys: Sequence[str]) -> str:
    """The key of a file mini-batch: the step's context and its items, in order."""
    return combine(BATCH_DOMAIN, [("context", context), *(("item", k) for k in item_keys)])


def table_batch_key(context: str, content: str) -> str:
    """The key of a table mini-batch: the step's context and the rows' data fingerprint."""
    return combine(BATCH_DOMAIN, [("context", context), ("rows", content)])


def rows_locator(context: str, slices: Sequence[tuple[str, str, int, int]]) -> str:
    """Where a table mini-batch's rows come from, as a key: the step's context and, for each
    file it spans, the file's format, content fingerprint and row range in it. Equal
    locators read equal rows, so a committed batch key remembered under its locator (see
    ``Ledger.remember``) is found without reading the rows again.

    Args:
        context: the step's context key.
        slices: (format, content fingerprint, first row, one past the last row) per file.
    """
    parts = [("context", context)]
    parts += [(f"slice:{fmt}:{lo}:{hi}", digest) for fmt, digest, lo, hi in slices]
    return combine(LOCATOR_DOMAIN, parts)


def plan_files(
    items: Sequence[Item], size: int, context: str, committed: Mapping[str, str]
) -> list[Batch]:
    """Mini-batches for a file input; items already committed keep their committed batch.

    Args:
        items: the files in input order.
        size: files per new mini-batch.
        context: the step's context key (entry, side inputs, result-changing knobs).
        committed: item key → key of the committed mini-batch that holds its result.
    """
    groups: dict[str, list[int]] = {}
    fresh: list[int] = []
    for pos, item in enumerate(items):
        found = committed.get(item.key)
        if found is None:
            fresh.append(pos)
        else:
            groups.setdefault(found, []).append(pos)
    planned = [(tuple(ps), key) for key, ps in groups.items()]
    for i in range(0, len(fresh), size):
        chunk = tuple(fresh[i : i + size])
        planned.append((chunk, batch_key(context, [items[p].key for p in chunk])))
    planned.sort(key=lambda pk: pk[0][0])
    return [
        Batch(n, positions, key=key, reused_from=key if key in groups else "")
        for n, (positions, key) in enumerate(planned)
    ]


def plan_rows(total: int, size: int) -> list[Batch]:
    """Mini-batches of consecutive rows: ``[0, size)``, ``[size, 2*size)``, ...

    Boundaries depend only on ``size``, so appended rows leave every earlier full mini-batch
    (and its key) as it was.
    """
    return [
        Batch(n, start=s, stop=min(s + size, total)) for n, s in enumerate(range(0, total, size))
    ]


@dataclass
class Tally:
    """Running counts of a parallel-run step.

    Attributes:
        items: items in the whole input.
        batches: mini-batches in the plan.
        items_failed: items without a result so far.
        batches_failed: mini-batches that failed every attempt so far, or whose run()
            returned no result for some of their items.
        errors: the first errors, as "mini-batch N (items ...): Error: message".
    """

    items: int
    batches: int
    items_failed: int = 0
    batches_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """ "12 of 1,500 items failed in 3 of 150 mini-batches"."""
        return (
            f"{self.items_failed:,} of {self.items:,} items failed in "
            f"{self.batches_failed:,} of {self.batches:,} mini-batches"
        )


def breach(tally: Tally, knobs: Knobs, final: bool) -> str | None:
    """Which threshold the counts passed, as the message to fail with, or None.

    ``error_threshold`` and ``allowed_failed_count`` are checked as results come in;
    ``allowed_failed_percent`` only once every mini-batch was tried (``final``).
    """
    passed = None
    if 0 <= knobs.error_threshold < tally.items_failed:
        passed = f"error_threshold is {knobs.error_threshold}"
    elif 0 <= knobs.allowed_failed_count < tally.batches_failed:
        passed = f"allowed_failed_count is {knobs.allowed_failed_count}"
    elif (
        final
        and tally.batches
        and tally.batches_failed * 100 > knobs.allowed_failed_percent * tally.batches
    ):
        passed = f"allowed_failed_percent is {knobs.allowed_failed_percent:g}"
    if passed is None:
        return None
    lines = [f"{tally.summary()}; {passed}"]
    if tally.errors:
        lines.append("first errors:")
        lines += [f"  {e}" for e in tally.errors]
    return "\n".join(lines)


MAX_ERRORS = 5


def describe_items(names: Sequence[str], limit: int = 3) -> str:
    """ "a.png, b.png and 8 more"."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"
