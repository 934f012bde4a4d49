"""A run's code context: where its pipeline is defined, the git commit, and a source snapshot.

Like an Azure ML snapshot, the files defining the pipeline and its components (the user's
own code, not libraries) are stored in the artifact store as one folder, by content, so the
code of any run can be read back whatever happened to the working tree since.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..fingerprint.modkind import module_kind
from ..types import PATH

if TYPE_CHECKING:
    from ..definitions.pipeline import Pipeline
    from ..store.artifacts import ArtifactStore

GIT_TIMEOUT = 5.0


class Provenance(NamedTuple):
    """What a run records of its code, and what its snapshot was made from.

    Attributes:
        recorded: ``source`` (``FILE.py:NAME``), ``code`` (git and snapshot) and the
            ``snapshot`` record, as the run records them.
        files: the source files snapshotted.
        root: the folder their snapshot paths are relative to.
    """

    recorded: dict[str, Any]
    files: list[Path]
    root: Path | None


def provenance(
    pipeline: Pipeline, store: ArtifactStore, git: GitLookup | None = None
) -> Provenance:
    """The run's code context, with its snapshot stored (see :func:`keep_snapshot`).

    Never fails a run: what cannot be found is left out, with the reason under ``code``.

    Args:
        pipeline: the pipeline the run runs.
        store: where the snapshot goes.
        git: a lookup of the git state started earlier (see :class:`GitLookup`).
    """
    files = source_files(pipeline)
    out: dict[str, Any] = {}
    if files:
        out["source"] = f"{files[0]}:{pipeline.name}"
    code: dict[str, Any] = {}
    root = None
    try:
        lookup = git if git is not None else GitLookup(None)
        code.update(lookup.state(files[0].parent) if files else {})
        root = Path(code["repo"]) if code.get("repo") else _common_parent(files)
        if files:
            record = snapshot(files, root, store)  # no lease: the run is not recorded yet
            out["snapshot"] = record
            code["snapshot"] = record.fingerprint
            code["files"] = [_relative(f, root) for f in files]
    except Exception as exc:  # the run matters more than its snapshot
        code["error"] = f"{type(exc).__name__}: {exc}"
    out["code"] = code
    return Provenance(out, files, root)


class GitLookup:
    """The git state of the pipeline file's folder, read in a thread from the start of a
    submit: git takes 5–20 ms, which the pipeline's tracing and checks can use meanwhile.

    Args:
        folder: the folder to read it for (None: read nothing ahead).
    """

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._found: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        if folder is not None:
            self._thread = threading.Thread(
                target=lambda: self._found.update(git_state(folder)),
                name="headrace-git-state",
                daemon=True,
            )
            self._thread.start()

    @classmethod
    def ahead(cls, pipeline: Pipeline) -> GitLookup:
        """A lookup started for the folder of the file defining ``pipeline``."""
        path = _user_file(pipeline.fn)
        return cls(path.parent if path is not None else None)

    def state(self, folder: Path) -> dict[str, Any]:
        """:func:`git_state` of ``folder`` (the one read ahead when it is that folder)."""
        if self._thread is None or folder != self.folder:
            return git_state(folder)
        self._thread.join()
        return dict(self._found)


def source_files(pipeline: Pipeline) -> list[Path]:
    """The user's files defining the pipeline and its components (pipeline's first)."""
    steps = pipeline.definition.steps.values()
    fns = list({id(f): f for f in [pipeline.fn, *(s.component.fn for s in steps)]}.values())
    found: dict[Path, None] = {}
    for fn in fns:  # each function once: a 1,000-step chain has a handful
        path = _user_file(fn)
        if path is not None:
            found[path] = None
    return list(found)


def _user_file(fn: Any) -> Path | None:
    """The file of the user's own code defining ``fn`` (resolved), or None."""
    module = getattr(fn, "__module__", None) or ""
    if module_kind(module) != "user" and not module.startswith("headrace_user_"):
        return None
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        return None
    return Path(path).resolve() if path and os.path.isfile(path) else None


def git_state(folder: Path) -> dict[str, Any]:
    """``repo``, ``commit`` and ``dirty`` (uncommitted changes to tracked files) of the git
    working tree holding ``folder``; {} outside one or without git."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=True,
        )
        return done.stdout.strip()

    try:
        repo, commit = git("rev-parse", "--show-toplevel", "HEAD").splitlines()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, ValueError, subprocess.SubprocessError):  # no git, no repo, no commit
        return {}
    return {"repo": repo, "commit": commit, "dirty": dirty}


def snapshot(files: list[Path], root: Path, store: ArtifactStore, lease: str | None = None) -> Any:
    """Store ``files`` (paths kept relative to ``root``) as one folder artifact; its record."""
    folder = Path(tempfile.mkdtemp(prefix="headrace-snapshot-"))
    try:
        for f in files:
            target = folder / _relative(f, root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        return store.write(folder, PATH, Path, folder, lease=lease)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def keep_snapshot(prov: Provenance, store: ArtifactStore, run_id: str) -> None:
    """Once the run is recorded: make sure the snapshot it refers to is still stored.

    The snapshot is written (or found stored) before the run is recorded, and a run takes
    leases only once it is recorded (gc removes lease folders of runs it does not see
    running): a gc in between may have deleted a copy that a forgotten run shared. Leased
    and checked after the record, it is written again from the same files when it is gone.
    """
    record = prov.recorded.get("snapshot")
    if record is None or prov.root is None:
        return
    store.leases.take(run_id, record.fingerprint)
    if store.exists(record):
        return
    with contextlib.suppress(Exception):  # the run matters more than its snapshot
        snapshot(prov.files, prov.root, store, lease=run_id)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def _common_parent(files: list[Path]) -> Path:
    return Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path.cwd()
