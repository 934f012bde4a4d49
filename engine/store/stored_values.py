"""Large parameter values, stored once: a run's params refer to a shared row by digest.

A 50 MB parameter used to be copied into every run's row, and the views read it all back.
Values whose JSON passes :data:`LARGE` bytes go into ``stored_values`` (keyed by their
digest, so equal values share one row); the run keeps a small reference. Reading one run
expands the references; listings show placeholders that name the type and size.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..fingerprint.digest import hash_bytes
from .serializers import jsonable

LARGE = 64 * 1024
"""A parameter value whose JSON is longer than this is stored once, by digest."""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stored_values "
    "(digest TEXT PRIMARY KEY, json TEXT NOT NULL, size INTEGER NOT NULL)"
)
_MARK = "__headrace_stored_value__"


@dataclass(frozen=True)
class StoredValue:
    """A large parameter value not loaded (in listings); JSON views show it as its text
    (``<str of 0.2 MB>``), never as the reference.

    Attributes:
        digest: its key in ``stored_values``.
        size: the length of its JSON.
        type_name: the type it had.
    """

    digest: str
    size: int
    type_name: str

    def __repr__(self) -> str:
        return f"<{self.type_name} of {self.size / 1e6:.1f} MB>"

    def __str__(self) -> str:
        return repr(self)


def params_json(c: sqlite3.Connection, params: Mapping[str, Any]) -> str:
    """The params as JSON, large values stored once in ``stored_values`` (inside ``c``'s
    transaction)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        text = json.dumps(value, default=_as_json)
        if len(text) <= LARGE and not (isinstance(value, dict) and _MARK in value):
            # (a value that looks like a reference is stored too, so no value is mistaken)
            out[name] = value
            continue
        data = text.encode()
        digest = hash_bytes(data)
        c.execute("INSERT OR IGNORE INTO stored_values VALUES (?,?,?)", (digest, text, len(data)))
        out[name] = {_MARK: digest, "size": len(data), "type": type(value).__name__}
    return json.dumps(out, default=_as_json)


def _as_json(value: Any) -> Any:
    """What JSON records for a value it has no type for: an Enum's value (which binding the
    params again accepts, so a rerun works), else its text (paths, dates)."""
    converted = jsonable(value)
    return converted if converted is not value else str(value)


def decode_params(text: str, fetch: Callable[[str], str | None] | None = None) -> dict[str, Any]:
    """Params JSON back to values: references loaded through ``fetch(digest)``, or left as
    :class:`StoredValue` placeholders without it."""
    params = json.loads(text)
    for name, value in params.items():
        if isinstance(value, dict) and isinstance(value.get(_MARK), str):
            found = fetch(value[_MARK]) if fetch is not None else None
            params[name] = (
                json.loads(found)
                if found is not None
                else StoredValue(
                    value[_MARK], int(value.get("size") or 0), str(value.get("type", "value"))
                )
            )
    return params


def forget_unused(c: sqlite3.Connection) -> int:
    """Delete stored values no run refers to any more (gc); returns how many."""
    cur = c.execute(
        "DELETE FROM stored_values WHERE NOT EXISTS "
        "(SELECT 1 FROM runs WHERE instr(runs.params, stored_values.digest) > 0)"
    )
    return cur.rowcount
