"""Damage to the store is detected before anything stored is trusted (reused, loaded, unpickled)."""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from headrace.engine import ArtifactError, Workspace, component, get_run_context, pipeline
from headrace.engine.store.artifacts import ArtifactStore
from headrace.engine.types import OBJECT, TABLE


@component
def table(n: int = 2000) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n), "b": [float(i) * 0.5 for i in range(n)]})


@component(allow_reuse=False)
def total(df: pd.DataFrame) -> float:
    return float(df["b"].sum())


@pipeline
def tables(n: int = 2000):
    return {"total": total(df=table(n=n))}


@component
def folder() -> Path:
    out = get_run_context().output_dir / "csvs"
    out.mkdir()
    (out / "a.csv").write_text("x,y\n1,2\n3,4\n")
    return out


@component(allow_reuse=False)
def read_csv(d: Path) -> str:
    return (d / "a.csv").read_text()


@pipeline
def folders():
    return {"text": read_csv(d=folder())}


def _flip_same_size(path: Path, offset: int, count: int = 64) -> None:
    """Overwrite bytes in place, keeping the size and restoring the mtime (a stealthy edit)."""
    st = path.stat()
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        data = f.read(count)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def test_same_size_damage_to_a_parquet_payload_is_not_reused(ws: Workspace) -> None:
    first = tables.submit(workspace=ws)
    payload = Path(first.steps["table"].outputs["output"].path)
    _flip_same_size(payload, payload.stat().st_size // 2)
    again = tables.submit(workspace=ws)
    assert again.status == "Completed" and not again.steps["table"].reused
    assert again.steps["table"].reason == "outputs of the cached run are missing from the store"
    assert again.outputs["total"].load() == first.outputs["total"].load()
    third = tables.submit(workspace=ws)  # the good copy replaced the damaged one
    assert third.steps["table"].reused and ws.store.exists(
        third.steps["table"].outputs["output"].record
    )


def test_an_edited_csv_inside_a_folder_artifact_is_not_reused(ws: Workspace) -> None:
    first = folders.submit(workspace=ws)
    csv = Path(first.steps["folder"].outputs["output"].path) / "a.csv"
    _flip_same_size(csv, 4, 3)
    again = folders.submit(workspace=ws)
    assert first.steps["folder"].reused is False and not again.steps["folder"].reused
    assert again.outputs["text"].load() == "x,y\n1,2\n3,4\n"


def test_regenerate_outputs_replaces_a_damaged_copy(ws: Workspace) -> None:
    first = tables.submit(workspace=ws)
    record = first.steps["table"].outputs["output"].record
    _flip_same_size(Path(record.uri), 100)
    assert not ws.store.exists(record)
    tables.submit(workspace=ws, regenerate_outputs=True)
    assert ws.store.exists(record)  # same content, same address: now intact again


def test_loading_a_damaged_table_refuses(ws: Workspace) -> None:
    record = ws.store.write(pd.DataFrame({"a": range(500)}), TABLE)
    _flip_same_size(Path(record.uri), 200)
    with pytest.raises(ArtifactError, match="does not match its content address"):
        ws.store.load(record)


def test_a_planted_pickle_of_the_same_size_is_never_unpickled(ws: Workspace, tmp_path) -> None:
    record = ws.store.write({"model": "x" * 200}, OBJECT)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(str(marker)))
    path = Path(record.uri)
    size = path.stat().st_size
    assert len(payload) <= size
    os.chmod(path, 0o644)
    path.write_bytes(payload + b"\0" * (size - len(payload)))  # same size, different bytes
    assert not ws.store.exists(record)
    with pytest.raises(ArtifactError, match="does not match its content address"):
        ws.store.load(record)
    assert not marker.exists()


class _Exploit:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@component
def linked(target: str) -> Path:
    out = get_run_context().output_dir / "with-link"
    out.mkdir()
    (out / "real.txt").write_text("mine")
    os.symlink(target, out / "link.txt")
    return out


@pipeline
def links(target: str):
    return {"out": linked(target=target)}


def test_a_symlink_in_an_output_is_stored_as_content_and_its_target_untouched(
    ws: Workspace, tmp_path: Path
) -> None:
    target = tmp_path / "outside.txt"
    target.write_text("outside v1")
    os.chmod(target, 0o755)
    run = links.submit(params={"target": str(target)}, workspace=ws)
    assert run.status == "Completed", run.steps["linked"].error
    stored = Path(run.outputs["out"].path)
    assert not (stored / "link.txt").is_symlink()
    assert (stored / "link.txt").read_text() == "outside v1"
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    target.write_text("outside v2")  # the stored artifact does not follow its old target
    assert (stored / "link.txt").read_text() == "outside v1"
    assert ws.store.exists(run.outputs["out"].record)


def test_a_dangling_symlink_in_an_output_fails_the_step_clearly(
    ws: Workspace, tmp_path: Path
) -> None:
    run = links.submit(params={"target": str(tmp_path / "nowhere")}, workspace=ws)
    assert run.status == "Failed"
    assert "symbolic link 'link.txt'" in run.steps["linked"].error


def test_concurrent_identical_writes_never_lose_the_artifact(tmp_path: Path) -> None:
    """Many writers of the same bytes at once: every one gets a record that loads, always."""
    store = ArtifactStore(str(tmp_path / "store"))
    df = pd.DataFrame({"a": range(50_000), "b": ["x"] * 50_000})
    errors: list[BaseException] = []
    records = []
    barrier = threading.Barrier(8)

    def write() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                rec = store.write(df, TABLE)
                records.append(rec)
                assert len(store.load(rec)) == 50_000  # never missing, never moved aside
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.fingerprint for r in records}) == 1


@component
def same(n: int, i: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n)})


@component(allow_reuse=False)
def rows(df: pd.DataFrame) -> int:
    return len(df)


@pipeline
def siblings(n: int = 300_000):
    return {f"rows{i}": rows(df=same(n=n, i=i)) for i in range(6)}


def test_six_siblings_writing_identical_tables_at_once_all_complete(ws: Workspace) -> None:
    for _ in range(4):
        run = siblings.submit(workspace=ws, max_workers=6, regenerate_outputs=True)
        assert run.status == "Completed", {s.name: s.error for s in run.steps.values()}


def _headrace(*args: str, ws: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "headrace.engine.cli", *args, "--workspace", str(ws)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_verify_finds_damage_and_repair_removes_it(ws: Workspace) -> None:
    first = tables.submit(workspace=ws)
    record = first.steps["table"].outputs["output"].record
    ok = _headrace("verify", ws=ws.root)
    assert ok.returncode == 0 and "0 damaged" in ok.stdout, ok.stdout + ok.stderr
    _flip_same_size(Path(record.uri), 300)
    found = _headrace("verify", ws=ws.root)
    assert found.returncode == 1 and f"DAMAGED: {record.fingerprint[:12]}" in found.stdout
    fixed = _headrace("verify", "--repair", ws=ws.root)
    assert fixed.returncode == 0 and "1 damaged (1 removed)" in fixed.stdout
    assert not Path(record.uri).exists()
    again = tables.submit(workspace=ws)
    assert not again.steps["table"].reused and ws.store.exists(record)
