"""``headrace runs download|cat``: a run's pipeline outputs back as files named after them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import HeadraceError, did_you_mean
from ..store.integrity import local_matches
from ..store.runs import Artifact, PipelineRun
from .as_json import dumps
from .console import WorkspaceOpt, fail, open_run, out
from .runs import runs_app

CAT_ROWS = 10
"""Rows ``runs cat`` prints of a table."""

# artifact format → the extension of the file a download writes
_EXTENSIONS = {"parquet": ".parquet", "joblib": ".joblib", "pickle": ".pkl", "json": ".json"}


@runs_app.command("download")
def runs_download(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    names: Annotated[
        list[str] | None, typer.Argument(help="Pipeline outputs to download (default: all).")
    ] = None,
    to: Annotated[Path, typer.Option("--to", help="Folder to write them into.")] = Path("."),
    workspace: WorkspaceOpt = None,
) -> None:
    """Write pipeline outputs into a folder: model.joblib, train.parquet, folders as folders."""
    run = open_run(workspace, run_id)
    chosen = _chosen(run, names)
    if to.exists() and not to.is_dir():
        fail(f"runs download --to {to}: that is a file; give a folder (it is made if missing)")
    try:
        to.mkdir(parents=True, exist_ok=True)
        for name, value in chosen.items():
            written = download(name, value, to)
            out.print(f"{name} → {written}", highlight=False, markup=False)
    except (HeadraceError, OSError) as exc:
        fail(f"runs download {run.id}: {exc}")


@runs_app.command("cat")
def runs_cat(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    name: Annotated[str, typer.Argument(help="The pipeline output.")],
    rows: Annotated[int, typer.Option(help="Rows of a table to print.")] = CAT_ROWS,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print a pipeline output: a value as it is, the head of a table, a file's text."""
    run = open_run(workspace, run_id)
    value = _chosen(run, [name])[name]
    try:
        print(cat_text(value, rows))
    except (HeadraceError, OSError) as exc:
        fail(f"runs cat {run.id} {name}: {exc}")


def _chosen(run: PipelineRun, names: list[str] | None) -> dict[str, Any]:
    outputs = run.outputs
    if not outputs:
        fail(f"run {run.id} has no pipeline outputs ({_why_none(run)})")
    for n in names or []:
        if n not in outputs:
            fail(
                f"run {run.id} has no output {n!r}.{did_you_mean(n, outputs)} "
                f"Outputs: {', '.join(outputs)}"
            )
    return {n: outputs[n] for n in names} if names else outputs


def _why_none(run: PipelineRun) -> str:
    if run.status != "Completed":
        return f"it ended {run.status}, before producing them"
    return "its pipeline returns none; return a dict of outputs from the @pipeline function"


def download(name: str, value: Any, folder: Path) -> Path:
    """Write one output into ``folder`` under its name; returns the path written."""
    if not isinstance(value, Artifact) or value.record.kind == "parameter":  # a value
        loaded = value.load() if isinstance(value, Artifact) else value  # verified
        path = folder / f"{name}.json"
        path.write_text(dumps(loaded) + "\n")
        return path
    record = value.record
    if record.kind == "path":
        return _copy(Path(value.load()), folder, name)
    if record.kind == "paths":  # always a folder of the files, whatever their number
        items = [Path(p) for p in value.load()]
        target = folder / name
        target.mkdir(exist_ok=True)
        unique = len({p.name for p in items}) == len(items)
        for i, item in enumerate(items):  # two files of one name: in numbered folders
            slot = target if unique else target / f"{i:05d}"
            slot.mkdir(exist_ok=True)
            _copy(item, slot, item.name)
        return target
    store = value.workspace.store
    source = store.local_path(record)
    if not local_matches(record, source, store.stat_cache()):
        raise HeadraceError(
            f"output {name!r} ({record.fingerprint[:12]}) is missing or damaged in the store; "
            "run `headrace verify` and re-run the step that produced it"
        )
    path = folder / f"{name}{_EXTENSIONS.get(record.fmt, '.' + record.fmt)}"
    shutil.copyfile(source, path)
    return path


def _copy(source: Path, folder: Path, name: str) -> Path:
    """A file keeps its extension under the new name; a folder is copied as a folder."""
    if source.is_dir():
        target = folder / name
        shutil.copytree(source, target, dirs_exist_ok=True)
        return target
    suffix = "".join(source.suffixes)
    target = folder / (name if name.endswith(suffix) else name + suffix)
    shutil.copyfile(source, target)
    return target


def cat_text(value: Any, rows: int = CAT_ROWS) -> str:
    """A printable form of an output: its value, a table's head, or a file's text."""
    if not isinstance(value, Artifact):
        return dumps(value, indent=None) if not isinstance(value, str) else value
    kind = value.record.kind
    loaded = value.load()
    if kind == "table":
        frame = loaded if hasattr(loaded, "head") else loaded.to_pandas()
        head = frame.head(rows).to_string()
        return f"{head}\n[{len(frame):,} rows x {frame.shape[1]} columns]"
    if kind in ("path", "paths"):
        items = loaded if isinstance(loaded, list) else [loaded]
        return "\n".join(_file_text(Path(p)) for p in items)
    return repr(loaded) if kind == "object" else str(loaded)


def _file_text(path: Path, limit: int = 10_000) -> str:
    if path.is_dir():
        return "\n".join(str(p.relative_to(path)) for p in sorted(path.rglob("*")))
    data = path.read_bytes()[:limit]
    try:
        return data.decode()
    except UnicodeDecodeError:
        return f"({path.name}: {path.stat().st_size:,} bytes of binary data; use runs download)"
