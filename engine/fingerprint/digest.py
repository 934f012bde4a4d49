"""Digest primitives: the xxh3-128 hasher, domain tags and canonical value fingerprints."""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Iterable
from typing import Any

import xxhash

from ..errors import UnhashableInput

__all__ = [
    "UnhashableInput",
    "new_hasher",
    "domain_hasher",
    "hash_bytes",
    "fingerprint_value",
    "update_value",
    "update_str",
    "update_digest",
    "combine",
]

# Domain tags: every fingerprint kind starts its hash with its own tag, so a folder, a
# checksum, a value and a byte stream can never produce the same digest by construction.
# Bump the version suffix of a tag if its encoding ever changes.
BYTES = b"headrace.bytes.v1\0"
TREE = b"headrace.tree.v1\0"
CHECKSUM = b"headrace.checksum.v1\0"
VALUE = b"headrace.value.v1\0"
TABLE = b"headrace.table.v1\0"
OBJECT = b"headrace.object.v1\0"
PATHS = b"headrace.paths.v1\0"
CODE = b"headrace.code.v1\0"
KEY = b"headrace.cache-key.v1\0"

_LEN = struct.Struct("<Q")


def new_hasher() -> xxhash.xxh3_128:
    """Returns a fresh xxh3-128 hasher; every headrace fingerprint is its 32-char hex digest."""
    return xxhash.xxh3_128()


def domain_hasher(domain: bytes) -> xxhash.xxh3_128:
    """Returns a hasher already fed with a domain tag.

    Args:
        domain: One of the module's domain tags.
    """
    hasher = xxhash.xxh3_128()
    hasher.update(domain)
    return hasher


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """Fingerprints a byte string; equal to ``fingerprint_file`` of a file holding these bytes.

    Args:
        data: The content.
    """
    hasher = domain_hasher(BYTES)
    hasher.update(data)
    return hasher.hexdigest()


def update_str(hasher: xxhash.xxh3_128, text: str | bytes) -> None:
    """Feeds a length-prefixed string, so consecutive strings cannot run into each other.

    Args:
        hasher: The hasher to feed.
        text: Text (UTF-8, lone surrogates kept) or bytes.
    """
    hasher.update(str_bytes(text))


def str_bytes(text: str | bytes) -> bytes:
    """What :func:`update_str` feeds: the length (8 bytes, little-endian), then the bytes.

    Args:
        text: Text (UTF-8, lone surrogates kept) or bytes.
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return _LEN.pack(len(data)) + data


def update_digest(hasher: xxhash.xxh3_128, digest: str) -> None:
    """Feeds a 32-char hex fingerprint as its 16 raw bytes.

    Args:
        hasher: The hasher to feed.
        digest: A fingerprint from this module.
    """
    hasher.update(bytes.fromhex(digest))


def combine(domain: bytes, items: Iterable[tuple[str, str]]) -> str:
    """Hashes (name, fingerprint) pairs in the given order under a domain tag.

    Args:
        domain: The domain tag.
        items: Pairs of a name and a 32-char fingerprint.
    """
    hasher = domain_hasher(domain)
    for name, digest in items:
        update_str(hasher, name)
        update_digest(hasher, digest)
    return hasher.hexdigest()


def fingerprint_value(value: Any) -> str:
    """Fingerprints a parameter value canonically and type-aware.

    ``1``, ``1.0``, ``"1"`` and ``True`` all differ; dicts are order-independent; floats
    are encoded by ``repr`` (so ``-0.0`` differs from ``0.0`` and every NaN is the same).

    Args:
        value: None, bool, int, float, str, bytes, an Enum member, or a tuple, list or
            dict of these (recursively).

    Raises:
        UnhashableInput: For any other type (paths have ``fingerprint_path``).
    """
    hasher = domain_hasher(VALUE)
    update_value(hasher, value)
    return hasher.hexdigest()


def fingerprint_or_type(value: Any) -> str:
    """:func:`fingerprint_value`, or the type's name for a value it cannot fingerprint."""
    try:
        return fingerprint_value(value)
    except UnhashableInput:
        return repr(type(value))


def update_value(
    hasher: xxhash.xxh3_128, value: Any, _active: frozenset[int] = frozenset()
) -> None:
    """Feeds the canonical, type-tagged encoding of a value (see ``fingerprint_value``).

    Args:
        hasher: The hasher to feed.
        value: The value.
        _active: Ids of the containers being encoded (cycle guard).
    """
    if value is None:
        hasher.update(b"N")
    elif isinstance(value, enum.Enum):
        hasher.update(b"E")
        update_str(hasher, type(value).__qualname__)  # not the module: it may be __main__
        update_value(hasher, value.value, _active)
    elif isinstance(value, bool):
        hasher.update(b"B1" if value else b"B0")
    elif isinstance(value, int):
        hasher.update(b"I")
        update_str(hasher, str(int(value)))
    elif isinstance(value, float):
        hasher.update(b"F")
        update_str(hasher, "nan" if math.isnan(value) else repr(float(value)))
    elif isinstance(value, str):
        hasher.update(b"S")
        update_str(hasher, str(value))
    elif isinstance(value, bytes | bytearray):
        hasher.update(b"Y")
        update_str(hasher, bytes(value))
    elif isinstance(value, tuple | list | dict):
        _update_container(hasher, value, _active)
    else:
        hint = " (paths are fingerprinted by content: fingerprint_path)" if _is_path(value) else ""
        raise UnhashableInput(
            f"cannot fingerprint a value of type {type(value).__qualname__}: values must be "
            f"None, bool, int, float, str, bytes, Enum, or tuples/lists/dicts of them{hint}"
        )


def _is_path(value: Any) -> bool:
    return any(cls.__name__ == "PurePath" for cls in type(value).__mro__)


def _update_container(
    hasher: xxhash.xxh3_128, value: tuple | list | dict, active: frozenset[int]
) -> None:
    if id(value) in active:
        raise UnhashableInput(f"cannot fingerprint a self-referencing {type(value).__name__}")
    active = active | {id(value)}
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            sub = domain_hasher(VALUE)
            update_value(sub, key, active)
            pairs.append((sub.digest(), item))
        pairs.sort(key=lambda pair: pair[0])
        hasher.update(b"D" + _LEN.pack(len(pairs)))
        for key_digest, item in pairs:
            hasher.update(key_digest)
            update_value(hasher, item, active)
        return
    hasher.update((b"T" if isinstance(value, tuple) else b"L") + _LEN.pack(len(value)))
    for item in value:
        update_value(hasher, item, active)
