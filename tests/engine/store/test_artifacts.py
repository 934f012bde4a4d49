"""The artifact store: content addresses, dedupe, atomic publish, remote fsspec roots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from headrace.engine import Workspace
from headrace.engine.errors import ArtifactError, WorkspaceError
from headrace.engine.store.artifacts import ArtifactStore
from headrace.engine.types import OBJECT, PARAMETER, PATH, PATHS, TABLE
from tests.engine.dags import chain


def test_same_content_same_address_and_dedupe(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    one = store.write(pd.DataFrame({"x": [1, 2]}), TABLE)
    two = store.write(pd.DataFrame({"x": [1, 2]}), TABLE)
    other = store.write(pd.DataFrame({"x": [1, 3]}), TABLE)
    assert one == two and one.fingerprint != other.fingerprint
    assert len(list((tmp_path / "a" / "objects").glob("*/*"))) == 2
    assert store.exists(one)
    assert list((tmp_path / "a" / "tmp").iterdir()) == []


def test_kinds_round_trip(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    assert store.load(store.write(0.5, PARAMETER), float) == 0.5
    assert store.write(1, PARAMETER) != store.write(1.0, PARAMETER)
    assert store.load(store.write({"k": [1]}, OBJECT)) == {"k": [1]}
    f = tmp_path / "in.txt"
    f.write_text("hello")
    rec = store.write(f, PATH)
    assert rec.fmt == "file" and Path(rec.uri).read_text() == "hello" and f.exists()
    files = store.load(store.write([f, f], PATHS))
    assert [p.read_text() for p in files] == ["hello", "hello"]


def test_missing_path_and_deleted_artifact(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    with pytest.raises(ArtifactError, match="the returned path .*does not exist"):
        store.write(tmp_path / "nope", PATH)
    small = store.write(3, PARAMETER)
    assert small.uri.startswith("inline:") and store.delete(small) == 0  # kept in its record
    assert store.exists(small) and store.load(small) == 3
    assert store.local_path(small).read_text() == "3"  # written out when a file is wanted
    rec = store.write("x" * 2000, PARAMETER)  # past INLINE_MAX: a file
    store.delete(rec)
    assert not store.exists(rec)
    with pytest.raises(ArtifactError, match="is missing from the store"):
        store.load(rec)


def test_memory_fsspec_root(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", artifact_root="memory://headrace-test/artifacts")
    run = chain.submit(workspace=ws, params={"n": 3})
    assert run.status == "Completed", run.steps
    art = run.steps["scale"].outputs["output"]
    assert str(art.path).startswith("memory://") and "/headrace-test/artifacts/objects/" in str(
        art.path
    )
    assert art.load()["x"].tolist() == [0.0, 2.0, 4.0]
    assert run.outputs["total"].load() == 6.0
    with pytest.raises(
        WorkspaceError, match="stores artifacts at 'memory://headrace-test/artifacts'"
    ):
        Workspace(tmp_path / "ws", artifact_root=str(tmp_path / "elsewhere"))


def test_damaged_config_and_database(tmp_path: Path) -> None:
    (tmp_path / "w1").mkdir()
    (tmp_path / "w1" / "workspace.json").write_text("{nope")
    with pytest.raises(WorkspaceError, match="workspace.json is not valid JSON"):
        Workspace(tmp_path / "w1")
    (tmp_path / "w2").mkdir()
    (tmp_path / "w2" / "headrace.db").write_bytes(b"not a database" * 100)
    with pytest.raises(WorkspaceError, match="is damaged; move it aside"):
        Workspace(tmp_path / "w2")


def test_a_run_leases_stored_artifacts_but_not_values_kept_in_their_record(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    inline = store.write(3, PARAMETER)
    stored = store.write(pd.DataFrame({"x": [1, 2]}), TABLE)
    assert inline.uri.startswith("inline:") and not stored.uri.startswith("inline:")
    store.lease("r1", inline)  # no payload gc could delete: nothing to claim
    store.lease("r1", stored)
    assert store.leases.held({"r1"}) == {stored.fingerprint}
