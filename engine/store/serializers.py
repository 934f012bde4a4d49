"""Serializers: a step's returned value → the payload files of an artifact, by kind."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Literal

from ..errors import ArtifactError
from ..fingerprint.canonical import dump_object
from ..types import PARAMETER, PATH, PATHS, TABLE, ArtifactKind
from .statcache import is_text

ArtifactFormat = Literal["json", "parquet", "file", "folder", "files", "joblib"]
"""How an artifact's payload is stored."""


def serialize(
    value: Any, kind: ArtifactKind, stage: Path, movable: Path | None
) -> tuple[ArtifactFormat, str, str]:
    """Write ``value`` as an artifact of ``kind`` into the folder ``stage``.

    Args:
        value: what the step returned for the output.
        kind: the output's artifact kind (see :mod:`headrace.engine.types`).
        stage: a private local folder the payload is written into.
        movable: a folder whose files may be moved instead of copied (the step's output_dir).

    Returns:
        (format, payload name inside ``stage``, table flavor or "").

    Raises:
        ArtifactError: the value does not fit the kind (names what was expected).
    """
    if kind == PARAMETER:
        (stage / "value.json").write_bytes(json_bytes(value))
        return "json", "value.json", ""
    if kind == TABLE:
        return _write_table(value, stage)
    if kind == PATH:
        return _write_path(value, stage, movable)
    if kind == PATHS:
        return _write_paths(value, stage, movable)
    dump_object(value, str(stage / "object.joblib"))  # joblib's format, sets sorted
    return "joblib", "object.joblib", ""


def json_bytes(value: Any) -> bytes:
    """A parameter-kind value as JSON bytes (enums by value, paths as text, numpy scalars)."""
    try:
        return json.dumps(jsonable(value), allow_nan=True).encode()
    except TypeError as exc:
        raise ArtifactError(
            f"expected a JSON-able parameter value, got {type(value).__name__}"
        ) from exc


def jsonable(value: Any) -> Any:
    """``value`` as JSON records it: an Enum by its value, a path as text, a numpy scalar as a
    number; anything else unchanged."""
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def _write_table(value: Any, stage: Path) -> tuple[ArtifactFormat, str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(value, pa.Table):
        pq.write_table(value, stage / "data.parquet")
        return "parquet", "data.parquet", "arrow"
    if type(value).__name__ == "DataFrame":
        value.to_parquet(stage / "data.parquet", engine="pyarrow")
        return "parquet", "data.parquet", "pandas"
    raise ArtifactError(f"expected a pandas.DataFrame or pyarrow.Table, got {type(value).__name__}")


def _write_path(
    value: Any, stage: Path, movable: Path | None, top: bool = True
) -> tuple[ArtifactFormat, str, str]:
    """Stage a returned file or folder (``top``: as the payload itself, whose name is
    recorded as text; else inside the payload, where any name the disk takes is kept)."""
    if not isinstance(value, (str, Path)):
        raise ArtifactError(
            f"expected a pathlib.Path to a file or folder, got {type(value).__name__}"
        )
    src = Path(value)
    if not src.exists():
        raise ArtifactError(
            f"the returned path {str(src)!r} does not exist; write the file (e.g. under "
            "get_run_context().output_dir) before returning its path"
        )
    own = movable is not None and src.resolve().is_relative_to(movable.resolve())
    # The step's own output_dir has a random name: store it as "output" so identical
    # contents get the same address (early cut-off).
    name = (
        "output" if own and movable is not None and src.resolve() == movable.resolve() else src.name
    )
    if top and not is_text(name):
        raise ArtifactError(
            f"the returned path {os.fsencode(src)!r} has a name that is not UTF-8 text, and "
            "headrace records the name of a returned file as text; rename it (e.g. to "
            f"{os.fsencode(name).decode('latin-1')!r}), or return the folder that holds it "
            "(names inside a folder are kept as they are)"
        )
    dest = stage / (name or "data")
    if own:
        os.rename(src, dest)  # the step's own output: move, do not copy
        materialize_links(dest)
        return ("folder" if dest.is_dir() else "file"), dest.name, ""
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=False)
        return "folder", dest.name, ""
    shutil.copy2(src, dest)
    return "file", dest.name, ""


def _write_paths(value: Any, stage: Path, movable: Path | None) -> tuple[ArtifactFormat, str, str]:
    if not isinstance(value, (list, tuple)):
        raise ArtifactError(f"expected a list of pathlib.Path, got {type(value).__name__}")
    folder = stage / "files"
    folder.mkdir()
    for i, item in enumerate(value):  # files/00000/NAME: each keeps its own name
        slot = folder / f"{i:05d}"
        slot.mkdir()
        _write_path(item, slot, movable, top=False)
    return "files", "files", ""


def listed_files(folder: Path) -> list[Path]:
    """The paths of a stored ``list[Path]``, in their order, with their own names.

    Each item is the one entry of its slot ``files/00000/``; artifacts stored by earlier
    versions hold ``files/00000-NAME`` instead (their names keep that prefix).
    """
    slots = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
    if not slots:
        return sorted(folder.iterdir())
    out = []
    for slot in sorted(slots, key=lambda p: int(p.name)):
        (item,) = list(slot.iterdir())
        out.append(item)
    return out


def materialize_links(path: Path) -> None:
    """Replace every symbolic link at or under ``path`` by a copy of what it points to.

    A stored artifact holds content, never links: a link would make the artifact change
    whenever its target does, and making the artifact read-only would change the target.

    Raises:
        ArtifactError: a link is dangling, or points at a folder that contains it (a loop).
    """
    links = [path] if path.is_symlink() else []
    if path.is_dir() and not path.is_symlink():
        links += [p for p in path.rglob("*") if p.is_symlink()]
    for link in sorted(links, key=lambda p: len(p.parts)):
        if not os.path.lexists(link) or not link.is_symlink():
            continue  # replaced along with a folder link above it
        target = link.resolve()
        if not target.exists():
            raise ArtifactError(
                f"the output contains a symbolic link {str(link.name)!r} to {str(target)!r}, "
                "which does not exist; write the file itself into the output instead of a link"
            )
        if target.is_dir() and link.absolute().is_relative_to(target):
            raise ArtifactError(
                f"the output contains a symbolic link {str(link.name)!r} to a folder that "
                f"contains it ({str(target)!r}); remove the link"
            )
        tmp = link.with_name(f".{link.name}.materialized")
        if target.is_dir():
            shutil.copytree(target, tmp, symlinks=False)
            link.unlink()
            os.rename(tmp, link)
        else:
            shutil.copyfile(target, tmp)
            os.replace(tmp, link)
