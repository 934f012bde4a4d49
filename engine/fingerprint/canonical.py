"""Pickles that do not depend on the process: sets and frozensets are written sorted.

A set's iteration order follows its elements' hashes, and string hashes change with every
process (PYTHONHASHSEED), so a plain pickle of ``{"a", "b"}`` differs from run to run. A
stored object's address is the hash of its pickle; with this pickler the same object gets
the same address in every process, so an upstream step that re-ran in a new process and
produced an equal object does not re-run its consumers (early cut-off).
"""

from __future__ import annotations

import io
import pickle
import sys
from typing import Any

_ORDERED = (str, bytes, int, float)  # types whose ``<`` is a total order (NaN aside)


def _sorted(items: Any) -> list[Any]:
    """``items`` in an order that depends on their values only, never on their hashes.

    Strings, bytes and numbers of one type sort as usual. Anything else (frozensets, whose
    ``<`` is the subset order and sorts nothing; tuples of mixed types; objects) sorts by
    its own canonical pickle, a total order that is the same in every process.
    """
    items = list(items)
    if _naturally_ordered(items):
        return sorted(items)
    try:
        return sorted(items, key=_canonical_bytes)
    except Exception:  # noqa: BLE001 - an element that cannot be pickled
        return sorted(items, key=lambda v: (type(v).__qualname__, repr(v)))


def _naturally_ordered(items: list[Any]) -> bool:
    """Whether ``<`` totally orders ``items``: all of one ordered type, or all tuples of one
    length whose items at each position are of one ordered type (no NaN anywhere)."""
    kinds = {type(v) for v in items}
    if len(kinds) != 1:
        return not items
    (kind,) = kinds
    if kind in _ORDERED:
        return kind is not float or not _has_nan(items)
    if kind is not tuple or len({len(v) for v in items}) != 1:
        return False
    return all(_naturally_ordered([v[i] for v in items]) for i in range(len(items[0])))


def _has_nan(values: list[float]) -> bool:
    return any(v != v for v in values)


def _canonical_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    CanonicalPickler(buffer).dump(value)
    return buffer.getvalue()


def _object_array(items: list[Any], shape: tuple[int, ...]) -> Any:
    """Rebuild a numpy object array written by :func:`canonical_reduce`."""
    import numpy as np

    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape(shape)


def is_object_array(obj: Any) -> bool:
    """Whether ``obj`` is a plain numpy array of Python objects (a DataFrame's object column)."""
    np = sys.modules.get("numpy")
    return np is not None and type(obj) is np.ndarray and obj.dtype == object


def canonical_reduce(obj: Any) -> Any:
    """A reducer override: sets and frozensets by their sorted elements, numpy object arrays
    by their elements (so this pickler writes those too); else NotImplemented."""
    if type(obj) is set:
        return (set, (_sorted(obj),))
    if type(obj) is frozenset:
        return (frozenset, (_sorted(obj),))
    if is_object_array(obj):  # numpy pickles its elements with the C pickler: sets unsorted
        return (_object_array, (list(obj.ravel()), obj.shape))
    return NotImplemented


class CanonicalPickler(pickle._Pickler):
    """The pure-Python pickler (protocol 5 by default), writing sets in sorted order.

    The C pickler never consults ``reducer_override`` for builtin sets, so it cannot be used.
    """

    def __init__(self, file: Any, protocol: int = 5):
        super().__init__(file, protocol=protocol)

    def reducer_override(self, obj: Any) -> Any:
        """See :func:`canonical_reduce`."""
        return canonical_reduce(obj)


def dump_object(value: Any, path: str) -> None:
    """Write ``value`` with joblib's pickler (fast for numpy arrays), sets sorted."""
    from joblib.numpy_pickle import NumpyPickler

    class _Pickler(NumpyPickler):  # type: ignore[misc]
        def save(self, obj: Any) -> None:
            if is_object_array(obj):  # joblib would write it with the C pickler
                pickle._Pickler.save(self, obj)  # type: ignore[attr-defined]
                return
            super().save(obj)

        def reducer_override(self, obj: Any) -> Any:
            return canonical_reduce(obj)

    with open(path, "wb") as f:
        _Pickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
