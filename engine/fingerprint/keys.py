"""Every cache-key ingredient (code, values, files, folders, URLs, tables, objects), cache_key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ..types import PATH as PATH_KIND
from ..types import PATHS as PATHS_KIND
from ..types import kind_of
from .code import code_fingerprint, code_ingredients
from .digest import (
    KEY,
    PATHS,
    UnhashableInput,
    domain_hasher,
    fingerprint_value,
    hash_bytes,
    new_hasher,
    str_bytes,
    update_digest,
    update_str,
)
from .files import fingerprint_file, fingerprint_path, fingerprint_url, split_protocol
from .tables import fingerprint_object, fingerprint_table, is_table

if TYPE_CHECKING:
    from .statcache import StatCache

__all__ = [
    "UnhashableInput",
    "cache_key",
    "code_fingerprint",
    "code_ingredients",
    "fingerprint_file",
    "fingerprint_input",
    "fingerprint_location",
    "fingerprint_object",
    "fingerprint_path",
    "fingerprint_table",
    "fingerprint_url",
    "fingerprint_value",
    "hash_bytes",
    "new_hasher",
]


def fingerprint_location(
    location: str | os.PathLike[str],
    stat_cache: StatCache | None = None,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Fingerprints a local path, a ``file://`` URL or any other fsspec URL by content.

    Args:
        location: A path or URL (a ``Path`` that collapsed ``s3://`` to ``s3:/`` is restored).
        stat_cache: Optional stat cache for local files.
        storage_options: fsspec options for remote URLs (credentials, endpoint...).

    Raises:
        FileNotFoundError: If nothing exists there.
    """
    protocol, text = split_protocol(location)
    if protocol is None:
        return fingerprint_path(text, stat_cache)
    if protocol in ("file", "local"):
        return fingerprint_path(text.split("://", 1)[1], stat_cache)
    return fingerprint_url(text, storage_options)


def fingerprint_input(
    value: Any,
    annotation: Any = None,
    stat_cache: StatCache | None = None,
    storage_options: dict[str, Any] | None = None,
) -> str | None:
    """Fingerprints a step input the way its annotation says it is stored.

    ``Path`` (or a str annotated ``Path``) -> file/folder/URL content; ``list[Path]`` ->
    the ordered combination of their fingerprints; DataFrame/Table -> data and schema;
    primitives, Enums and containers of them -> by value; anything else -> its pickle.

    Args:
        value: The input value.
        annotation: The parameter's annotation, if known.
        stat_cache: Optional stat cache for local files.
        storage_options: fsspec options for remote URLs.

    Returns:
        The fingerprint, or None when the value cannot be fingerprinted (not picklable).

    Raises:
        FileNotFoundError: If a path input does not exist.
    """
    kind = _annotation_kind(annotation)
    if isinstance(value, PurePath) or (kind == "path" and isinstance(value, str)):
        return fingerprint_location(value, stat_cache, storage_options)
    if isinstance(value, list | tuple) and (
        (kind == "paths" and all(isinstance(v, str | PurePath) for v in value))
        or (value and all(isinstance(v, PurePath) for v in value))
    ):
        hasher = domain_hasher(PATHS)
        update_str(hasher, str(len(value)))
        for item in value:
            update_digest(hasher, fingerprint_location(item, stat_cache, storage_options))
        return hasher.hexdigest()
    if is_table(value):
        try:
            return fingerprint_table(value)
        except (TypeError, ValueError):  # e.g. unhashable cells (lists) in an object column
            return fingerprint_object(value)
    try:
        return fingerprint_value(value)
    except UnhashableInput:
        return fingerprint_object(value)


def _annotation_kind(annotation: Any) -> str | None:
    """Returns "path", "paths" or None, as the engine's one classifier (types.kind_of) says."""
    if annotation is None:
        return None
    kind = kind_of(annotation)
    return kind if kind in (PATH_KIND, PATHS_KIND) else None


def cache_key(code_fp: str, params: Mapping[str, str], inputs: Mapping[str, str]) -> str:
    """Combines a step's ingredient fingerprints into its cache key.

    Names count and order does not: params and inputs are each sorted by name, and a name
    moved from params to inputs gives another key.

    Args:
        code_fp: The component's ``code_fingerprint``.
        params: Parameter name -> ``fingerprint_value`` of its value.
        inputs: Input name -> content fingerprint.

    Raises:
        ValueError: If an ingredient is not a fingerprint (e.g. None for an input that
            could not be fingerprinted: such a step cannot be reused).
    """
    pieces = [_digest_bytes("code", code_fp)]  # hashed in one call: as fed piece by piece
    for section, items in (("params", params), ("inputs", inputs)):
        pieces.append(str_bytes(f"{section}:{len(items)}"))
        for name in sorted(items):
            pieces.append(str_bytes(name))
            pieces.append(_digest_bytes(f"{section[:-1]} {name!r}", items[name]))
    hasher = domain_hasher(KEY)
    hasher.update(b"".join(pieces))
    return hasher.hexdigest()


def _digest_bytes(what: str, digest: Any) -> bytes:
    """What ``update_digest`` feeds for a fingerprint (its 16 raw bytes), checked first."""
    if not isinstance(digest, str) or len(digest) != 32:
        raise ValueError(
            f"cache_key: {what} has no fingerprint ({digest!r}); a step whose ingredients "
            "cannot be fingerprinted cannot be reused -- run it without the cache"
        )
    try:
        return bytes.fromhex(digest)
    except ValueError:
        raise ValueError(f"cache_key: {what} is not a hex fingerprint: {digest!r}") from None
