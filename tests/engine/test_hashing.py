"""Tests for headrace.engine.fingerprint.keys: every cache-key ingredient and the stat cache."""

from __future__ import annotations

import enum
import importlib
import linecache
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Annotated, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headrace.engine.fingerprint import files as contenthash
from headrace.engine.fingerprint import keys as hashing
from headrace.engine.fingerprint.keys import (
    UnhashableInput,
    cache_key,
    code_fingerprint,
    code_ingredients,
    fingerprint_file,
    fingerprint_input,
    fingerprint_object,
    fingerprint_path,
    fingerprint_table,
    fingerprint_url,
    fingerprint_value,
    hash_bytes,
    new_hasher,
)
from headrace.engine.store.statcache import RACY_MARGIN_NS, StatCache

PAST = time.time() - 3600  # an mtime safely outside the racy window


class Color(enum.Enum):
    RED = 1


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


# ---------------------------------------------------------------------------------- values


def test_fingerprints_are_xxh3_128_hex() -> None:
    assert len(fingerprint_value(1)) == 32
    assert new_hasher().name == "XXH3_128"
    assert hash_bytes(b"abc") == hash_bytes(bytearray(b"abc")) != hash_bytes(b"abd")


def test_value_is_type_aware() -> None:
    values = [1, 1.0, "1", True, None, b"1", [1], (1,), {"1": 1}, Color.RED, Shade.RED, Level.ONE]
    assert len({fingerprint_value(v) for v in values}) == len(values)
    assert fingerprint_value(0) != fingerprint_value(False)
    assert fingerprint_value("") != fingerprint_value(None) != fingerprint_value(b"")


def test_floats_are_repr_exact_and_deterministic() -> None:
    assert fingerprint_value(0.1 + 0.2) != fingerprint_value(0.3)
    assert fingerprint_value(-0.0) != fingerprint_value(0.0)
    assert fingerprint_value(float("nan")) == fingerprint_value(-float("nan"))
    assert fingerprint_value(float("inf")) != fingerprint_value(float("-inf"))


def test_containers_do_not_run_into_each_other() -> None:
    assert fingerprint_value(["ab", "c"]) != fingerprint_value(["a", "bc"])
    assert fingerprint_value([[1], 2]) != fingerprint_value([1, [2]])
    assert fingerprint_value({"a": [1, 2]}) == fingerprint_value({"a": [1, 2]})


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=8))
def test_dict_order_does_not_matter(mapping: dict) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert fingerprint_value(mapping) == fingerprint_value(reordered)
    assert fingerprint_value({"nested": mapping}) == fingerprint_value({"nested": reordered})


def test_unhashable_values_raise() -> None:
    with pytest.raises(UnhashableInput, match="cannot fingerprint a value of type object"):
        fingerprint_value(object())
    with pytest.raises(TypeError, match="type PosixPath.*by content: fingerprint_path"):
        fingerprint_value(Path("x"))
    loop: list = []
    loop.append(loop)
    with pytest.raises(UnhashableInput, match="self-referencing list"):
        fingerprint_value(loop)


def test_fingerprints_are_stable_across_processes() -> None:
    script = textwrap.dedent(
        """
        import pandas as pd
        from headrace.engine.fingerprint.keys import fingerprint_table, fingerprint_value
        frame = pd.DataFrame({"a": [1, 2], "s": ["x", None]}, index=["i", "j"])
        print(fingerprint_value({"b": [1.5, "x"], "a": None}), fingerprint_table(frame))
        """
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")  # this process has a random seed
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2], "s": ["x", None]}, index=["i", "j"])
    here = f"{fingerprint_value({'a': None, 'b': [1.5, 'x']})} {fingerprint_table(frame)}\n"
    assert run.stdout == here.encode()


# --------------------------------------------------------------------------- files, folders


def _write_tree(root: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> Path:
    for name in dirs:
        (root / name).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


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
        first = _write_tree(Path(tmp, "one"), dict(items))
        rnd.shuffle(items)
        second = _write_tree(Path(tmp, "elsewhere", "two"), dict(items))
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
        root = _write_tree(Path(tmp), tree)
        before = fingerprint_path(root)
        flipped = bytearray(tree[name])
        flipped[index] ^= 1 << bit
        (root / name).write_bytes(bytes(flipped))
        assert fingerprint_path(root) != before


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _write_tree(tmp_path / "data", {"a.csv": b"1,2\n", "sub/b.bin": b"\x00\x01"})


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
    _write_tree(tmp_path / "holder", {"x": b""})
    prints = {fingerprint_path(tmp_path / n) for n in ("empty_file", "empty_dir", "holder")}
    assert len(prints) == 3


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cannot fingerprint input: no such file or folder"):
        fingerprint_path(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no such file or folder: 'memory://nope"):
        fingerprint_url("memory://nope/at/all")


def test_symlinks_count_by_target_content(tmp_path: Path) -> None:
    plain = _write_tree(tmp_path / "plain", {"a": b"x", "sub/b": b"y"})
    linked = _write_tree(tmp_path / "linked", {"a": b"x"})
    (linked / "sub").symlink_to(plain / "sub")
    (linked / "dangling").symlink_to(tmp_path / "nowhere")  # no content: skipped
    assert fingerprint_path(linked) == fingerprint_path(plain)
    (plain / "loop").symlink_to(plain)
    with pytest.raises(ValueError, match="symlink loop at loop"):
        fingerprint_path(plain)


def test_large_folders_hash_on_threads_identically(tmp_path: Path, monkeypatch) -> None:
    _write_tree(tmp_path, {f"f{i}": os.urandom(1000 + i) for i in range(20)})
    sequential = fingerprint_path(tmp_path)
    monkeypatch.setattr(contenthash, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(contenthash, "_MAX_WORKERS", 3)
    assert fingerprint_path(tmp_path) == sequential


# ------------------------------------------------------------------------------- stat cache


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Records every file whose bytes are actually read."""
    seen: list[str] = []
    real = contenthash._hash_local_file

    def counting(path):
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(contenthash, "_hash_local_file", counting)
    return seen


def test_stat_cache_skips_unchanged_files(tmp_path: Path, reads: list[str]) -> None:
    root = _write_tree(tmp_path / "d", {f"f{i}": b"x" * i for i in range(50)})
    for path in root.iterdir():
        os.utime(path, (PAST, PAST))
    cache = StatCache(tmp_path / "ws.db")
    first = fingerprint_path(root, cache)
    assert len(reads) == 50
    again = StatCache(tmp_path / "ws.db")  # a new process would see the same, from disk
    assert fingerprint_path(root, again) == first == fingerprint_path(root)
    assert len(reads) == 50 + 50  # only the cache-less call above read anything


def test_rewritten_bytes_with_restored_mtime_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"aaaa")
    os.utime(path, (PAST, PAST))
    cache = StatCache(tmp_path / "ws.db")
    before = fingerprint_file(path, cache)
    st_before = path.stat()
    time.sleep(0.05)  # ctime ticks are coarse (a jiffy)
    path.write_bytes(b"bbbb")  # same size, same inode
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))
    st_after = path.stat()
    same = ("st_size", "st_mtime_ns", "st_ino")
    assert [getattr(st_after, k) for k in same] == [getattr(st_before, k) for k in same]
    assert st_after.st_ctime_ns != st_before.st_ctime_ns  # the only witness of the write
    assert fingerprint_file(path, cache) == hash_bytes(b"bbbb") != before


def test_racily_clean_files_are_rehashed(tmp_path: Path, reads: list[str]) -> None:
    path = tmp_path / "fresh.txt"
    path.write_bytes(b"just written")  # mtime is now: inside the racy window
    cache = StatCache(tmp_path / "ws.db")
    fingerprint_file(path, cache)
    fingerprint_file(path, cache)
    assert len(reads) == 2
    os.utime(path, (PAST, PAST))
    fingerprint_file(path, cache)
    fingerprint_file(path, cache)
    assert len(reads) == 3


def _stat(size=4, mtime_ns=1_000, ino=7, ctime_ns=2_000) -> os.stat_result:
    seconds = (0, mtime_ns // 10**9, ctime_ns // 10**9)
    fields = (0o100644, ino, 0, 1, 0, 0, size, *seconds, *map(float, seconds))
    return os.stat_result((*fields, 0, mtime_ns, ctime_ns))


def test_stat_cache_rules(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "ws.db")
    hashed_at = 10 * RACY_MARGIN_NS
    cache.store("/d/f", _stat(), "d" * 32, hashed_at_ns=hashed_at)
    assert cache.lookup("/d/f", _stat()) == "d" * 32
    assert cache.lookup("/d/other", _stat()) is None
    for changed in ({"size": 5}, {"mtime_ns": 1_001}, {"ino": 8}, {"ctime_ns": 2_001}):
        assert cache.lookup("/d/f", _stat(**changed)) is None, changed
    racy = hashed_at - RACY_MARGIN_NS
    cache.store("/d/racy", _stat(mtime_ns=racy), "e" * 32, hashed_at_ns=hashed_at)
    assert cache.lookup("/d/racy", _stat(mtime_ns=racy)) is None
    assert cache.flush() == 2
    assert cache.flush() == 0


def test_stat_cache_shares_the_workspace_database(tmp_path: Path) -> None:
    db = tmp_path / "ws.db"
    with sqlite3.connect(db) as other:
        other.execute("CREATE TABLE runs (id TEXT PRIMARY KEY)")
        other.execute("INSERT INTO runs VALUES ('r1')")
    with StatCache(db) as cache:
        cache.store("/w/a", _stat(), "a" * 32, hashed_at_ns=10 * RACY_MARGIN_NS)
        cache.store("/w/b/c", _stat(), "c" * 32, hashed_at_ns=10 * RACY_MARGIN_NS)
        cache.store("/wx", _stat(), "f" * 32, hashed_at_ns=10 * RACY_MARGIN_NS)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT id FROM runs").fetchall() == [("r1",)]
        assert conn.execute("SELECT COUNT(*) FROM stat_cache").fetchone() == (3,)
    reopened = StatCache(db)
    assert reopened.prefetch("/w") == 2  # "/wx" is not under "/w"
    assert reopened.lookup("/w/b/c", _stat()) == "c" * 32


def test_stat_cache_is_thread_safe(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "ws.db")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                cache.store(f"/t/{n}/{i}", _stat(), f"{n:032x}", hashed_at_ns=10**12)
                assert cache.lookup(f"/t/{n}/{i}", _stat()) == f"{n:032x}"
                if i % 50 == 0:
                    cache.flush()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.flush()
    assert not errors
    assert StatCache(tmp_path / "ws.db").prefetch("/t") == 800


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


# ----------------------------------------------------------------------------------- tables


def _table():
    import pyarrow as pa

    return pa.table(
        {
            "i": pa.array([1, None, 3, 4, 5, 6, 7]),
            "s": pa.array(["a", "bb", None, "", "ccc", "d", "é"]),
            "b": pa.array([True, False, None, True, True, False, True]),
            "l": pa.array([[1], [], None, [2, 3], [4], [5], [6]]),
            "c": pa.array(["x", "y", "x", "x", "y", "x", "y"]).dictionary_encode(),
        }
    )


@given(st.lists(st.integers(1, 7), max_size=7))
def test_table_chunking_does_not_matter(cuts: list[int]) -> None:
    import pyarrow as pa

    table = _table()
    bounds = sorted({0, 7, *cuts})
    pieces = [table.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]
    rechunked = pa.concat_tables(pieces)
    assert fingerprint_table(rechunked) == fingerprint_table(table)
    assert fingerprint_table(rechunked.combine_chunks()) == fingerprint_table(table)


def test_table_sees_values_types_names_and_nulls() -> None:
    import pyarrow as pa

    table = _table()
    base = fingerprint_table(table)
    changed = [
        table.set_column(0, "i", pa.array([1, None, 3, 4, 5, 6, 8])),
        table.set_column(0, "i", pa.array([1, 0, 3, 4, 5, 6, 7])),  # null -> 0
        table.set_column(0, "i", table.column("i").cast(pa.int32())),
        table.rename_columns(["j", "s", "b", "l", "c"]),
        table.set_column(1, "s", pa.array(["a", "b", None, "b", "ccc", "d", "é"])),  # moved bytes
        table.slice(0, 6),
    ]
    assert len({base, *map(fingerprint_table, changed)}) == len(changed) + 1


def test_dataframe_by_data_dtypes_and_index() -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"x": np.arange(5, dtype="int64"), "y": list("abcde")})
    base = fingerprint_table(frame)
    assert fingerprint_table(frame.copy()) == base
    variants = [
        frame.assign(x=frame.x.astype("int32")),
        frame.assign(x=frame.x.astype("float64")),
        frame.rename(columns={"y": "z"}),
        frame.set_axis(list("vwxyz")),
        frame.assign(y=list("abcdf")),
        frame[["y", "x"]],
    ]
    assert len({base, *map(fingerprint_table, variants)}) == len(variants) + 1


def test_dataframe_pyarrow_cannot_convert_falls_back() -> None:
    import pandas as pd

    mixed = pd.DataFrame({"a": [1, "x", 2.5]})
    assert fingerprint_table(mixed) == fingerprint_table(mixed.copy())
    assert fingerprint_table(mixed) != fingerprint_table(pd.DataFrame({"a": [1, "x", 3.5]}))
    with pytest.raises(TypeError, match="takes a DataFrame or a pyarrow Table"):
        fingerprint_table([1, 2])


# ---------------------------------------------------------------------------------- objects


class _Model:
    def __init__(self, weights: list[float]) -> None:
        self.weights = weights


def test_objects_by_pickle() -> None:
    assert fingerprint_object(_Model([1.0])) == fingerprint_object(_Model([1.0]))
    assert fingerprint_object(_Model([1.0])) != fingerprint_object(_Model([2.0]))
    offset = 3
    assert fingerprint_object(lambda x: x + offset) is not None  # cloudpickle fallback
    assert fingerprint_object(threading.Lock()) is None


def test_input_dispatch(folder: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1]})
    assert fingerprint_input(folder) == fingerprint_path(folder)
    assert fingerprint_input(frame) == fingerprint_table(frame)
    assert fingerprint_input(0.5, float) == fingerprint_value(0.5)
    assert fingerprint_input(_Model([1.0])) == fingerprint_object(_Model([1.0]))
    assert fingerprint_input(threading.Lock()) is None
    paths = [folder / "a.csv", folder / "sub"]
    ordered = fingerprint_input(paths, list[Path])
    assert ordered == fingerprint_input(paths) != fingerprint_input(paths[::-1])
    assert fingerprint_input([str(p) for p in paths], list[Path]) == ordered
    assert fingerprint_input([], list[Path]) != fingerprint_input([])


def test_cache_key_combines_named_ingredients() -> None:
    a, b, c = (fingerprint_value(n) for n in range(3))
    key = cache_key(a, {"x": b, "y": c}, {"data": a})
    assert key == cache_key(a, {"y": c, "x": b}, {"data": a})
    assert key != cache_key(a, {"x": c, "y": b}, {"data": a})
    assert key != cache_key(a, {"x": b}, {"y": c, "data": a})
    assert key != cache_key(b, {"x": b, "y": c}, {"data": a})
    with pytest.raises(ValueError, match="input 'data' has no fingerprint"):
        cache_key(a, {}, {"data": None})  # type: ignore[dict-item]


# ------------------------------------------------------------------------------------- code


@pytest.fixture
def user_modules(tmp_path: Path, monkeypatch):
    """Writes modules into tmp_path and (re)imports them; returns write(name, source)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    prefix = f"hr_{uuid.uuid4().hex[:8]}_"
    loaded: list[str] = []

    def write(name: str, source: str):
        full = prefix + name
        (tmp_path / f"{full}.py").write_text(textwrap.dedent(source).replace("PFX_", prefix))
        linecache.clearcache()
        importlib.invalidate_caches()
        if full in sys.modules:
            return importlib.reload(sys.modules[full])
        loaded.append(full)
        return importlib.import_module(full)

    yield write
    for name in loaded:
        sys.modules.pop(name, None)


def test_code_ignores_comments_docstrings_formatting_decorators(user_modules) -> None:
    plain = user_modules("steps", "def step(x):\n    return x * 2 + 1\n")
    first = code_fingerprint(plain.step)
    edited = user_modules(
        "steps",
        '''
        import functools

        @functools.lru_cache(maxsize=None)
        def step(x):   # a comment
            """A docstring."""
            return (x*2
                    + 1)
        ''',
    )
    assert code_fingerprint(edited.step) == first
    body = user_modules("steps", "def step(x):\n    return x * 2 + 2\n")
    assert code_fingerprint(body.step) != first
    assert code_fingerprint(body.step, version="2") != code_fingerprint(body.step)


def test_code_follows_helpers_in_user_modules(user_modules) -> None:
    user_modules("helpers", "def clean(x):\n    return x.strip()\n")
    main = user_modules(
        "main",
        """
        import PFX_helpers
        from PFX_helpers import clean as imported

        def by_name(x):
            return imported(x)

        def by_attribute(x):
            return PFX_helpers.clean(x)
        """,
    )
    before = code_fingerprint(main.by_name), code_fingerprint(main.by_attribute)
    user_modules("helpers", "def clean(x):\n    return x.strip().lower()\n")
    assert code_fingerprint(main.by_attribute) != before[1]  # helpers alone was reloaded
    main = user_modules("main", (Path(main.__file__).read_text()))
    assert code_fingerprint(main.by_name) != before[0]


def test_code_does_not_depend_on_the_module_name(user_modules) -> None:
    source = """
        import enum

        LIMIT = 3

        class Mode(enum.Enum):
            FAST = 1

        def helper(x):
            return x[:LIMIT]

        def step(x, mode=Mode.FAST):
            return helper(x)
        """
    # The same file is __main__ in one run and "headrace_user_<stem>_<hash>" in the next.
    first, second = user_modules("as_main", source), user_modules("as_loaded", source)
    assert code_fingerprint(first.step) == code_fingerprint(second.step)
    assert fingerprint_value(first.Mode.FAST) == fingerprint_value(second.Mode.FAST)


def test_helpers_with_the_same_name_in_two_modules_both_count(user_modules) -> None:
    user_modules("one", "def clean(x):\n    return x.strip()\n")
    user_modules("two", "def clean(x):\n    return x.lower()\n")
    main = user_modules(
        "both",
        """
        import PFX_one
        import PFX_two

        def step(x):
            return PFX_one.clean(PFX_two.clean(x))
        """,
    )
    before = code_fingerprint(main.step)
    assert sum(label.startswith("fn:clean") for label in code_ingredients(main.step)) == 2
    for name in ("one", "two"):
        user_modules(name, "def clean(x):\n    return x.upper()\n")
        assert code_fingerprint(main.step) != before
        before = code_fingerprint(main.step)


def test_code_includes_constants_closures_classes_and_cycles(user_modules) -> None:
    source = """
        THRESHOLD = 0.5

        class Scaler:
            def scale(self, x):
                return x * 2

        def ping(n):
            return pong(n - 1) if n else 0

        def pong(n):
            return ping(n)

        def step(x):
            return Scaler().scale(x) > THRESHOLD and ping(3) == 0

        def make(k):
            def inner(x):
                return x + k
            return inner
        """
    module = user_modules("consts", source)
    base = code_fingerprint(module.step)
    assert code_fingerprint(user_modules("consts", source).step) == base
    assert code_fingerprint(user_modules("consts", source.replace("0.5", "0.6")).step) != base
    module = user_modules("consts", source.replace("x * 2", "x * 3"))
    assert code_fingerprint(module.step) != base
    assert code_fingerprint(module.make(1)) != code_fingerprint(module.make(2))


def test_code_records_library_versions_not_stdlib(user_modules) -> None:
    module = user_modules(
        "libs",
        """
        import math
        import os.path
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        def fit(x):
            return LogisticRegression(C=math.sqrt(2)).fit(np.asarray(x), os.path.sep)
        """,
    )
    items = code_ingredients(module.fit)
    assert items["lib:scikit-learn"] == metadata.version("scikit-learn")
    assert items["lib:numpy"] == metadata.version("numpy")
    assert not [label for label in items if "math" in label or "os" in label.split(".")]
    assert set(items) == {"code", "version", "lib:scikit-learn", "lib:numpy"}


def test_headrace_itself_counts_as_a_library() -> None:
    def step():
        return hashing.fingerprint_value(1)

    assert code_ingredients(step)["lib:headrace"] == metadata.version("headrace")


def test_code_without_source_falls_back_to_bytecode() -> None:
    namespace: dict = {}
    exec("f = lambda x: x + 1\ng = lambda x: x + 2", namespace)  # no file: no source
    with pytest.warns(UserWarning, match="source of .*<lambda> is unavailable"):
        first = code_fingerprint(namespace["f"])
    with pytest.warns(UserWarning, match="falls back to bytecode"):
        assert code_fingerprint(namespace["g"]) != first


def test_code_fingerprint_is_cached_per_function(user_modules, monkeypatch) -> None:
    module = user_modules("cached", "def step(x):\n    return x\n")
    first = code_fingerprint(module.step)
    monkeypatch.setattr("inspect.getsource", lambda obj: pytest.fail("parsed twice"))
    assert code_fingerprint(module.step) == first
