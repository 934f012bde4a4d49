"""A polled S3-compatible store (a moto server on loopback) as a data-change trigger."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from headrace.engine.errors import HeadraceError
from headrace.scheduler import Daemon, Schedule
from headrace.scheduler.source import open_source
from headrace.scheduler.store import SchedulerStore

from .conftest import PIPELINES

pytestmark = pytest.mark.slow
POLL, SETTLE = 0.1, 0.5


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[Any, str]]:
    """A boto3 client and the endpoint of a moto S3 server with a bucket named "bucket"."""
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("s3fs")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.delenv(key, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", "/nonexistent")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bucket")  # s3fs mkdir sends a location moto rejects
        try:
            yield client, endpoint
        finally:
            import s3fs

            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()


def step_until(d: Daemon, done: Callable[[], object], timeout: float = 8.0) -> None:
    """Step the daemon until ``done()`` (polling runs on real monotonic time)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
        d.step()


def step_for(d: Daemon, seconds: float) -> None:
    """Step the daemon for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
        d.step()


def test_s3_prefix_is_polled_debounced_and_confirmed_by_content(s3, ws, clock, launcher):
    client, endpoint = s3

    def put(key: str, body: bytes) -> None:
        client.put_object(Bucket="bucket", Key=f"prefix/{key}", Body=body)

    Schedule.create(
        "s3in",
        f"{PIPELINES}:on_files",
        on_change="s3://bucket/prefix/",  # no object under it yet
        glob="*.csv",
        poll=POLL,
        settle=SETTLE,
        storage_options={"endpoint_url": endpoint},
        workspace=ws,
        now=clock().timestamp(),
    )
    d = Daemon(ws, now=clock, launcher=launcher)
    d.step()  # the first listing: an empty prefix
    put("a.csv", b"1")
    put("b.csv", b"2")
    step_until(d, lambda: len(d.watches["s3in"].pending) == 2)  # polled: both wait to settle
    step_for(d, 2 * POLL)  # the burst goes on longer than a poll interval...
    assert launcher.started == []
    put("sub/c.csv", b"3")
    put("notes.txt", b"not matched by the glob")  # ...within the settle window
    step_until(d, lambda: launcher.started)
    step_for(d, SETTLE + 2 * POLL)  # the burst fired once
    urls = [f"s3://bucket/prefix/{k}" for k in ("a.csv", "b.csv", "sub/c.csv")]
    assert [f.params["files"].split(",") for f in launcher.started] == [urls]
    assert sorted(SchedulerStore(ws.history).cursor("s3in")) == urls

    launcher.finish_all()
    clock.advance(minutes=1)
    put("a.csv", b"1")  # the same bytes again
    step_for(d, SETTLE + 2 * POLL)
    assert len(launcher.started) == 1
    put("b.csv", b"2, changed")
    step_until(d, lambda: len(launcher.started) == 2)
    assert launcher.started[1].params["files"] == urls[1]
    assert launcher.started[1].reason == "trigger"
    d.shutdown()


def test_s3_endpoint_from_the_standard_env_var_and_missing_bucket(s3, ws, monkeypatch):
    client, endpoint = s3
    client.put_object(Bucket="bucket", Key="env/old.csv", Body=b"old")
    with pytest.raises(HeadraceError, match="does not exist or is not a folder"):
        Schedule.create(
            "nobucket",
            f"{PIPELINES}:on_files",
            on_change="s3://no-such-bucket/in/",
            storage_options={"endpoint_url": endpoint},
            workspace=ws,
        )
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # what `headrace schedule create` relies on
    made = Schedule.create(
        "env", f"{PIPELINES}:on_files", on_change="s3://bucket/env", workspace=ws
    )
    assert made.trigger is not None and made.trigger.storage_options == {}  # nothing stored
    assert list(SchedulerStore(ws.history).cursor("env")) == ["s3://bucket/env/old.csv"]
    assert list(open_source(made.trigger).list()) == ["s3://bucket/env/old.csv"]


def test_trigger_credentials_are_never_written_to_the_schedules_table(s3, ws, monkeypatch):
    client, endpoint = s3
    client.put_object(Bucket="bucket", Key="creds/a.csv", Body=b"a")
    with pytest.raises(HeadraceError, match='"key": "env:VARIABLE"'):
        Schedule.create(
            "literal",
            f"{PIPELINES}:on_files",
            on_change="s3://bucket/creds",
            storage_options={"endpoint_url": endpoint, "secret": "testing", "key": "testing"},
            workspace=ws,
        )
    assert SchedulerStore(ws.history).schedule("literal") is None  # nothing half-made
    monkeypatch.setenv("HR_TEST_S3_SECRET", "testing")
    options = {"endpoint_url": endpoint, "key": "env:AWS_ACCESS_KEY_ID"}
    options["secret"] = "env:HR_TEST_S3_SECRET"
    made = Schedule.create(
        "referenced",
        f"{PIPELINES}:on_files",
        on_change="s3://bucket/creds",
        storage_options=options,
        workspace=ws,
    )
    assert made.trigger is not None
    assert list(open_source(made.trigger).list()) == ["s3://bucket/creds/a.csv"]  # resolved
    stored = ws.history.query("SELECT * FROM schedules WHERE name='referenced'")[0]
    assert "env:HR_TEST_S3_SECRET" in str(stored) and "'testing'" not in str(stored)


def test_an_s3_trigger_without_credentials_gets_one_clear_error(s3, ws, monkeypatch):
    """botocore's NoCredentialsError is no OSError: it was a 60-line traceback."""
    import s3fs

    _, endpoint = s3
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(HeadraceError, match=r"cannot be opened \(NoCredentialsError") as err:
        Schedule.create(
            "nocreds",
            f"{PIPELINES}:on_files",
            on_change="s3://bucket/in/",
            storage_options={"endpoint_url": endpoint},
            workspace=ws,
        )
    assert "credentials are configured" in str(err.value)
    assert SchedulerStore(ws.history).schedules() == []
    s3fs.S3FileSystem.clear_instance_cache()
