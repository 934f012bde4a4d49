"""The workspace: a folder holding the SQLite history and the artifact store's configuration."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
import warnings
from pathlib import Path
from typing import Any

from ..errors import HeadraceError, WorkspaceError
from ..fingerprint.options import split_secrets
from ..status import Status
from .artifacts import ArtifactStore
from .history import History
from .runs import PipelineRun
from .since import since_time

DEFAULT_DIRNAME = ".headrace"
ENV_HOME = "HEADRACE_HOME"


def resolve_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The workspace folder: ``path``, else ``$HEADRACE_HOME``, else ``./.headrace``."""
    if path is not None:
        return Path(path).expanduser().absolute()
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser().absolute() if env else Path.cwd() / DEFAULT_DIRNAME


class Workspace:
    """A workspace folder: ``headrace.db`` (runs, steps, metrics, cache index), ``workspace.json``
    (the artifact root, any fsspec URL) and, by default, ``artifacts/``.

    Args:
        root: the workspace folder (created if missing).
        artifact_root: where artifacts go (a folder or an fsspec URL); recorded on first use.
        storage_options: fsspec options for the artifact root (e.g. an S3 endpoint). Only
            options that are not credentials are written to ``workspace.json``; give
            credentials as ``"env:VARIABLE"`` references (written as they are, read from the
            environment wherever the store is opened) or pass them each time you open it.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        artifact_root: str | None = None,
        storage_options: dict[str, Any] | None = None,
    ):
        self.root = resolve_root(root)
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} is a file; give a folder with --workspace")
        if not self.root.exists():
            try:  # private by default: run history can hold parameters and paths
                self.root.mkdir(parents=True, mode=0o700)
            except FileExistsError:  # another process created it just now
                pass
            except OSError as exc:
                raise WorkspaceError(
                    f"cannot create the workspace {self.root} ({exc.strerror}); give a folder "
                    "you may write with --workspace or $HEADRACE_HOME"
                ) from None
        public, secrets = split_secrets(storage_options or {})
        config = self._config(artifact_root, public)
        options = {**config.get("storage_options", {}), **public, **secrets}
        self.history = History(self.root / "headrace.db")
        # A local artifact root stages under itself (renames must not cross filesystems);
        # a remote one stages in the workspace.
        remote = "://" in config["artifact_root"] and not config["artifact_root"].startswith(
            "file://"
        )
        self.store = ArtifactStore(
            config["artifact_root"],
            staging=str(self.root / "tmp") if remote else None,
            storage_options=options,
            stat_db=str(self.root / "headrace.db"),
        )

    def _config(self, artifact_root: str | None, options: dict[str, Any] | None) -> dict[str, Any]:
        path = self.root / "workspace.json"
        if path.exists():
            try:
                config = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise WorkspaceError(
                    f"{path} is not valid JSON ({exc}); fix it or delete it to use the default "
                    "artifact folder"
                ) from exc
            if artifact_root is not None and artifact_root != config.get("artifact_root"):
                raise WorkspaceError(
                    f"workspace {self.root} stores artifacts at {config.get('artifact_root')!r}, "
                    f"not {artifact_root!r}; use another workspace folder for another store"
                )
            stored = split_secrets(config.get("storage_options") or {})[1]
            if stored:
                warnings.warn(
                    f"{path} holds storage credentials in clear ({', '.join(sorted(stored))}); "
                    'they are used, but write "env:VARIABLE" there instead and keep the secret '
                    "in the environment",
                    stacklevel=3,
                )
            return dict(config)
        config = {
            "artifact_root": artifact_root or str(self.root / "artifacts"),
            "storage_options": options or {},
        }
        # A name of its own: two processes creating the workspace at once must not share it.
        tmp = path.with_name(f".workspace.json.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(config, indent=2))
        os.replace(tmp, path)
        return config

    def runs(
        self,
        pipeline: str | None = None,
        status: str | Status | None = None,
        since: str | float | dt.datetime | dt.date | None = None,
        limit: int | None = None,
        schedule: str | None = None,
    ) -> list[PipelineRun]:
        """Recorded runs, newest first (like ``headrace runs list``).

        Args:
            pipeline: only runs of the pipeline with this name.
            status: only runs with this status (Completed, Failed, Canceled, Running).
            since: only runs created since then: a duration ago ("2h", "7d"), an ISO date or
                date-time, a datetime, or a unix time.
            limit: at most this many runs.
            schedule: only runs the schedule with this name started.

        Raises:
            HeadraceError: an unknown status or an unreadable ``since``.
        """
        if status is not None:
            status = parse_status(status)
        start = since_time(since, "since=") if since is not None else None
        rows = self.history.list_runs(
            limit, pipeline, status=status, since=start, schedule=schedule
        )
        return [PipelineRun(self, r["id"]) for r in rows]

    def run(self, run_id: str) -> PipelineRun:
        """The recorded run ``run_id`` (a unique prefix is enough).

        Raises:
            HeadraceError: no run, or several, match the id.
        """
        return PipelineRun(self, run_id)

    def close(self) -> None:
        """Close the database connection."""
        self.history.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.root}>"


def parse_status(value: str | Status, option: str = "status=") -> str:
    """The run status named ``value`` in any case (an error, naming ``option``, lists them)."""
    run_statuses = (Status.RUNNING, Status.COMPLETED, Status.FAILED, Status.CANCELED)
    by_name = {s.value.lower(): s.value for s in run_statuses}
    found = by_name.get(str(getattr(value, "value", value)).lower())
    if found is None:
        raise HeadraceError(
            f"{option} {value!r} is not a run status; give one of {', '.join(by_name.values())}"
        )
    return found
