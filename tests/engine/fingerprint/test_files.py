"""File, folder and fsspec URL fingerprints: content only, any byte flip seen."""

from __future__ import annotations

import enum
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headrace.engine.fingerprint import files as contenthash
from headrace.engine.fingerprint.keys import (
    fingerprint_file,
    fingerprint_input,
    fingerprint_path,
    fingerprint_url,
    fingerprint_value,
    hash_bytes,
)
from headrace.engine.store.statcache import StatCache
from tests.engine.trees import write_tree

PAST = time.time() - 3600  # an mtime safely outside the racy window


class Color(enum.Enum):
    RED = 1


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


# --------------------------------------------------------------------------- files, folders


_names = st.lists(st.sampled_from(["a", "b", "c.txt", "d e", "é"]), min_size=1, max_size=3)
_trees = st.dictionaries(_names.map("/".join), st.binary(max_size=64), min_size=1, max_size=6)
_trees = _trees.filter(  # no name may be both a file and a folder
    lambda tree: not any(other.startswith(name + "/") for name in tree for other in tree)
)


@settings(max_examples=25, deadline=None)
@given(_trees, st.randoms())
def test_folder_ignores_creation_order_and_location(tree: dict, rnd) -> None:
    items = list(tree.items())
    with tempfile.TemporaryDirectory() as tmp:
        first = write_tree(Path(tmp, "one"), dict(items))
        rnd.shuffle(items)
        second = write_tree(Path(tmp, "elsewhere", "two"), dict(items))
        assert fingerprint_path(first) == fingerprint_path(second)
        assert fingerprint_path(str(first)) == fingerprint_path(first)


@settings(max_examples=25, deadline=None)
@given(_trees, st.data())
def test_folder_sees_any_single_byte_flip(tree: dict, data) -> None:
    tree = {name: content for name, content in tree.items() if content} or {"f": b"x"}
    name = data.draw(st.sampled_from(sorted(tree)))
    index = data.draw(st.integers(0, len(tree[name]) - 1))
    bit = data.draw(st.integers(0, 7))
    with tempfile.TemporaryDirectory() as tmp:
        root = write_tree(Path(tmp), tree)
        before = fingerprint_path(root)
        flipped = bytearray(tree[name])
        flipped[index] ^= 1 << bit
        (root / name).write_bytes(bytes(flipped))
        assert fingerprint_path(root) != before


def test_folder_sees_renames_new_files_and_empty_folders(folder: Path) -> None:
    before = fingerprint_path(folder)
    (folder / "a.csv").rename(folder / "a2.csv")
    renamed = fingerprint_path(folder)
    (folder / "new.txt").write_bytes(b"")
    added = fingerprint_path(folder)
    (folder / "empty").mkdir()
    with_empty = fingerprint_path(folder)
    (folder / "empty" / "deeper").mkdir()
    deeper = fingerprint_path(folder)
    assert len({before, renamed, added, with_empty, deeper}) == 5


def test_moving_the_folder_or_touching_files_changes_nothing(folder: Path, tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "ws.db")
    before = fingerprint_path(folder, cache)
    os.utime(folder / "a.csv", (PAST, PAST))
    assert fingerprint_path(folder) == fingerprint_path(folder, cache) == before
    moved = tmp_path / "x" / "renamed"
    moved.parent.mkdir()
    folder.rename(moved)
    assert fingerprint_path(moved) == fingerprint_path(moved, cache) == before


def test_a_file_is_its_bytes_only(tmp_path: Path) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.txt"
    one.write_bytes(b"same")
    two.write_bytes(b"same")
    assert fingerprint_file(one) == fingerprint_path(two) == hash_bytes(b"same")
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 * contenthash.CHUNK + 5))  # several reads through the buffer
    assert fingerprint_file(big) == hash_bytes(big.read_bytes())


def test_file_folder_and_empty_things_differ(tmp_path: Path) -> None:
    (tmp_path / "empty_file").write_bytes(b"")
    (tmp_path / "empty_dir").mkdir()
    write_tree(tmp_path / "holder", {"x": b""})
    prints = {fingerprint_path(tmp_path / n) for n in ("empty_file", "empty_dir", "holder")}
    assert len(prints) == 3


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cannot fingerprint input: no such file or folder"):
        fingerprint_path(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no such file or folder: 'memory://nope"):
        fingerprint_url("memory://nope/at/all")


def test_symlinks_count_by_target_content(tmp_path: Path) -> None:
    plain = write_tree(tmp_path / "plain", {"a": b"x", "sub/b": b"y"})
    linked = write_tree(tmp_path / "linked", {"a": b"x"})
    (linked / "sub").symlink_to(plain / "sub")
    (linked / "dangling").symlink_to(tmp_path / "nowhere")  # no content: skipped
    assert fingerprint_path(linked) == fingerprint_path(plain)
    (plain / "loop").symlink_to(plain)
    with pytest.raises(ValueError, match="symlink loop at loop"):
        fingerprint_path(plain)


def test_large_folders_hash_on_threads_identically(tmp_path: Path, monkeypatch) -> None:
    write_tree(tmp_path, {f"f{i}": os.urandom(1000 + i) for i in range(20)})
    sequential = fingerprint_path(tmp_path)
    monkeypatch.setattr(contenthash, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(contenthash, "_MAX_WORKERS", 3)
    assert fingerprint_path(tmp_path) == sequential


# ----------------------------------------------------------------------------------- fsspec


@pytest.fixture
def memory_root():
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/headrace-test-{uuid.uuid4().hex}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_memory_file_and_folder_match_local(memory_root, folder: Path) -> None:
    fs, root = memory_root
    fs.pipe(f"{root}/data/a.csv", b"1,2\n")
    fs.pipe(f"{root}/data/sub/b.bin", b"\x00\x01")
    assert fingerprint_url(f"memory://{root}/data/a.csv") == fingerprint_file(folder / "a.csv")
    assert fingerprint_url(f"memory://{root}/data") == fingerprint_path(folder)
    assert fingerprint_url(f"memory://{root}/data/") == fingerprint_path(folder)
    fs.mkdir(f"{root}/data/empty")
    (folder / "empty").mkdir()
    assert fingerprint_url(f"memory://{root}/data") == fingerprint_path(folder)
    fs.pipe(f"{root}/data/sub/b.bin", b"\x00\x02")
    assert fingerprint_url(f"memory://{root}/data") != fingerprint_path(folder)


def test_urls_and_paths_dispatch(memory_root, folder: Path) -> None:
    fs, root = memory_root
    fs.pipe(f"{root}/a.csv", b"1,2\n")
    local = fingerprint_file(folder / "a.csv")
    assert fingerprint_input(f"memory://{root}/a.csv", Path) == local
    assert fingerprint_input(Path(f"memory://{root}/a.csv")) == local  # "memory:/..." restored
    assert fingerprint_input(f"file://{folder}/a.csv", Path) == local
    assert fingerprint_input(Path(f"file://{folder}/a.csv")) == local
    assert fingerprint_input(str(folder), Optional[Path]) == fingerprint_path(folder)  # noqa: UP045
    assert fingerprint_input(str(folder), Annotated[Path, "raw"]) == fingerprint_path(folder)
    assert fingerprint_input(str(folder)) == fingerprint_value(str(folder))  # a str parameter


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    old = {key: os.environ.get(key) for key in (*env, "AWS_DEFAULT_REGION")}
    os.environ.update(env, AWS_DEFAULT_REGION="us-east-1")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="bucket")
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint},
        "skip_instance_cache": True,
    }
    yield client, options
    server.stop()
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.slow
def test_s3_folder_by_etag_and_by_bytes(s3, folder: Path) -> None:
    client, options = s3
    for prefix in ("one", "two/deeper"):
        client.put_object(Bucket="bucket", Key=f"{prefix}/data/a.csv", Body=b"1,2\n")
        client.put_object(Bucket="bucket", Key=f"{prefix}/data/sub/b.bin", Body=b"\x00\x01")
    by_etag = fingerprint_url("s3://bucket/one/data", options)
    assert fingerprint_url("s3://bucket/two/deeper/data", options) == by_etag
    by_bytes = fingerprint_url("s3://bucket/one/data", options, trust_checksums=False)
    assert by_bytes == fingerprint_path(folder) != by_etag  # checksums have their own domain
    single = fingerprint_url("s3://bucket/one/data/a.csv", options, trust_checksums=False)
    assert single == fingerprint_file(folder / "a.csv")
    client.put_object(Bucket="bucket", Key="one/data/sub/b.bin", Body=b"\x00\x02")
    assert fingerprint_url("s3://bucket/one/data", options) != by_etag  # listing not stale


@pytest.mark.slow
def test_s3_multipart_etag_is_content_derived(s3) -> None:
    client, options = s3

    def upload(key: str, parts: list[bytes]) -> str:
        upload_id = client.create_multipart_upload(Bucket="bucket", Key=key)["UploadId"]
        done = []
        for number, body in enumerate(parts, start=1):
            part = client.upload_part(
                Bucket="bucket", Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
            done.append({"ETag": part["ETag"], "PartNumber": number})
        client.complete_multipart_upload(
            Bucket="bucket", Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
        )
        return client.head_object(Bucket="bucket", Key=key)["ETag"]

    chunk = b"p" * (5 << 20)
    assert upload("mp/x", [chunk, b"tail"]).endswith('-2"')
    first = fingerprint_url("s3://bucket/mp/x", options)
    upload("mp/x", [chunk, b"tall"])
    assert fingerprint_url("s3://bucket/mp/x", options) != first
