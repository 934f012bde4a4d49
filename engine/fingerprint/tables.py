"""Fingerprints of tables (pyarrow/pandas, by data and schema) and of picklable objects."""

from __future__ import annotations

import json
from typing import Any

from .canonical import CanonicalPickler
from .digest import OBJECT, TABLE, domain_hasher, new_hasher, update_str

__all__ = ["fingerprint_object", "fingerprint_table", "is_table"]

# Keys of pyarrow's "pandas" schema metadata that name library versions, not data.
_VOLATILE_PANDAS_KEYS = ("creator", "pandas_version")


def is_table(value: Any) -> bool:
    """Whether a value is a pandas DataFrame or a pyarrow Table (without importing either).

    Args:
        value: Any value.
    """
    module = type(value).__module__
    if module.startswith("pandas"):
        import pandas as pd

        return isinstance(value, pd.DataFrame)
    if module.startswith("pyarrow"):
        import pyarrow as pa

        return isinstance(value, pa.Table)
    return False


def fingerprint_table(table: Any) -> str:
    """Fingerprints a pandas DataFrame or pyarrow Table by its data and schema.

    Columns are hashed canonically from their Arrow buffers (values, string lengths and
    bytes, validity), streamed chunk by chunk, so equal data gives an equal fingerprint
    whatever the chunking. The schema (names, types, nullability, metadata) counts; for a
    DataFrame so do its dtypes and index (via pyarrow's pandas metadata, without the
    library-version fields). A DataFrame and the equal pyarrow Table may differ.

    Args:
        table: A ``pandas.DataFrame`` or ``pyarrow.Table``.

    Raises:
        TypeError: For anything else.
    """
    import pyarrow as pa

    hasher = domain_hasher(TABLE)
    if isinstance(table, pa.Table):
        hasher.update(b"arrow")
        _update_arrow_table(hasher, table)
        return hasher.hexdigest()
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"fingerprint_table takes a DataFrame or a pyarrow Table, not {table!r}")
    try:
        converted = pa.Table.from_pandas(table, preserve_index=True)
    except (ValueError, TypeError, NotImplementedError):  # Arrow errors, duplicate names
        hasher.update(b"pandas-hash")
        _update_pandas_fallback(hasher, table)
    else:
        hasher.update(b"pandas")
        _update_arrow_table(hasher, converted)
    return hasher.hexdigest()


def _update_arrow_table(hasher: Any, table: Any) -> None:
    update_str(hasher, _schema_text(table.schema))
    update_str(hasher, str(table.num_rows))
    for name, column in zip(table.column_names, table.columns, strict=True):
        update_str(hasher, name)
        hasher.update(_column_digest(column))


def _schema_text(schema: Any) -> str:
    fields = [
        [field.name, str(field.type), field.nullable, _metadata(field.metadata)] for field in schema
    ]
    return json.dumps([fields, _metadata(schema.metadata)], sort_keys=True)


def _metadata(metadata: dict[bytes, bytes] | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, raw in (metadata or {}).items():
        text_key = key.decode("utf-8", "replace")
        value: Any = raw.decode("utf-8", "replace")
        if text_key == "pandas":
            value = json.loads(value)
            for volatile in _VOLATILE_PANDAS_KEYS:
                value.pop(volatile, None)
        result[text_key] = value
    return result


def _column_digest(column: Any) -> bytes:
    import pyarrow as pa

    typ = column.type
    chunks = column.chunks
    if pa.types.is_dictionary(typ):
        chunks = [chunk.dictionary_decode() for chunk in chunks]
        typ = typ.value_type
    if pa.types.is_string_view(typ) or pa.types.is_binary_view(typ):
        large = pa.large_string() if pa.types.is_string_view(typ) else pa.large_binary()
        chunks, typ = [chunk.cast(large) for chunk in chunks], large
    has_nulls = column.null_count > 0
    validity, lengths, data = new_hasher(), new_hasher(), new_hasher()
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        if has_nulls:
            validity.update(chunk.is_valid().to_numpy(zero_copy_only=False))
            chunk = chunk.drop_null()
        _update_values(chunk, typ, lengths, data)
    flag = b"N" if has_nulls else b"-"
    return flag + validity.digest() + lengths.digest() + data.digest()


def _update_values(chunk: Any, typ: Any, lengths: Any, data: Any) -> None:
    """Feeds a null-free chunk; the byte streams do not depend on chunk boundaries."""
    import numpy as np
    import pyarrow as pa

    if len(chunk) == 0 or pa.types.is_null(typ):
        return
    if pa.types.is_boolean(typ):
        data.update(chunk.to_numpy(zero_copy_only=False))
    elif _is_fixed_width(typ):
        width = typ.bit_width // 8
        start = chunk.offset * width
        data.update(memoryview(chunk.buffers()[1])[start : start + len(chunk) * width])
    elif pa.types.is_string(typ) or pa.types.is_binary(typ) or _is_large_binary(typ):
        buffers = chunk.buffers()
        offset_type = np.dtype(np.int64 if _is_large_binary(typ) else np.int32)
        offsets = np.frombuffer(
            buffers[1],
            dtype=offset_type,
            count=len(chunk) + 1,
            offset=chunk.offset * offset_type.itemsize,
        )
        lengths.update(np.diff(offsets).astype(np.int64))
        if buffers[2] is not None:
            data.update(memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])])
    else:  # nested, union, extension...: row by row through Python, slower but canonical
        for row in chunk.to_pylist():
            update_str(data, repr(row))


def _is_fixed_width(typ: Any) -> bool:
    import pyarrow as pa

    kinds = (pa.types.is_integer, pa.types.is_floating, pa.types.is_temporal, pa.types.is_decimal)
    return any(kind(typ) for kind in kinds) or pa.types.is_fixed_size_binary(typ)


def _is_large_binary(typ: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_large_string(typ) or pa.types.is_large_binary(typ))


def _update_pandas_fallback(hasher: Any, frame: Any) -> None:
    """For frames pyarrow cannot convert (mixed-type object columns): pandas row hashes."""
    import pandas as pd

    update_str(hasher, repr(list(frame.columns)))
    update_str(hasher, repr([str(dtype) for dtype in frame.dtypes]))
    update_str(hasher, repr(list(frame.index.names)))
    hasher.update(
        pd.util.hash_pandas_object(frame.index.to_frame(index=False), index=False).to_numpy()
    )
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        hasher.update(pd.util.hash_pandas_object(column, index=False).to_numpy())


class _HashWriter:
    """A write-only file object that feeds a hasher, so pickles stream without a copy."""

    def __init__(self, hasher: Any) -> None:
        self.hasher = hasher

    def write(self, data: Any) -> int:
        self.hasher.update(data)
        return len(memoryview(data))


def fingerprint_object(obj: Any) -> str | None:
    """Fingerprints an object by its pickle (protocol 5; cloudpickle as a fallback).

    Sets are pickled sorted, so their order does not vary between processes; other
    differences (dict insertion order) may still make equal objects differ, which costs a
    re-run, never a wrong reuse.

    Args:
        obj: Any object.

    Returns:
        The fingerprint, or None if the object cannot be pickled.
    """
    for label in ("pickle", "cloudpickle"):
        hasher = domain_hasher(OBJECT)
        update_str(hasher, label)
        try:
            if label == "pickle":
                CanonicalPickler(_HashWriter(hasher)).dump(obj)
            else:
                import cloudpickle

                cloudpickle.CloudPickler(_HashWriter(hasher), protocol=5).dump(obj)
        except Exception:  # noqa: BLE001 - any pickling failure means "not fingerprintable"
            continue
        return hasher.hexdigest()
    return None
