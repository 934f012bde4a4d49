"""Storage credentials never reach the workspace's files; env: references are read where used."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from headrace.engine import Workspace, component, pipeline
from headrace.engine.errors import WorkspaceError
from headrace.engine.fingerprint.options import resolve, split_secrets


@component
def double(x: int) -> int:
    return 2 * x


@pipeline
def doubling(x: int = 21):
    return {"y": double(x=x)}


def test_credentials_are_not_written_and_the_files_are_private(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    options = {"secret": "s3cr3t-value", "token": "tok-value", "endpoint_url": "http://h:1"}
    ws = Workspace(root, artifact_root="memory://secrets-test", storage_options=options)
    text = (root / "workspace.json").read_text()
    assert "s3cr3t-value" not in text and "tok-value" not in text and "http://h:1" in text
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root / "workspace.json").st_mode) == 0o600
    assert ws.store.storage_options["secret"] == "s3cr3t-value"  # in memory for this process
    ws.close()


def test_env_references_are_written_as_references_and_resolved_where_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HR_TEST_SECRET", "from-the-env")
    root = tmp_path / "ws"
    ws = Workspace(
        root, artifact_root="memory://secrets-env", storage_options={"secret": "env:HR_TEST_SECRET"}
    )
    assert json.loads((root / "workspace.json").read_text())["storage_options"] == {
        "secret": "env:HR_TEST_SECRET"
    }
    assert ws.store.spec()["storage_options"] == {"secret": "env:HR_TEST_SECRET"}  # to workers
    assert resolve(ws.store.storage_options) == {"secret": "from-the-env"}
    ws.close()
    monkeypatch.delenv("HR_TEST_SECRET")
    with pytest.raises(WorkspaceError, match="refers to the environment variable 'HR_TEST_SECRET'"):
        Workspace(root)


def test_which_options_are_secrets() -> None:
    public, secret = split_secrets(
        {
            "key": "AKIA",
            "secret": "x",
            "account_key": "y",
            "sas_token": "z",
            "client_kwargs": {"endpoint_url": "http://e"},
            "anon": False,
            "secret_ref": "env:S",
            "region_name": "eu",
        }
    )
    assert set(secret) == {"key", "secret", "account_key", "sas_token"}
    assert set(public) == {"client_kwargs", "anon", "secret_ref", "region_name"}


@pytest.fixture
def moto_s3():
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.delenv(key, raising=False)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", "/nonexistent")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        env.setenv("HR_S3_KEY", "testing")
        env.setenv("HR_S3_SECRET", "testing-secret")
        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t"
        ).create_bucket(Bucket="bucket")
        try:
            yield endpoint
        finally:
            import s3fs

            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()


@pytest.mark.slow
def test_an_s3_store_with_env_credentials_works_in_a_fresh_process(
    moto_s3: str, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    options = {
        "key": "env:HR_S3_KEY",
        "secret": "env:HR_S3_SECRET",
        "client_kwargs": {"endpoint_url": moto_s3},
    }
    ws = Workspace(root, artifact_root="s3://bucket/hr", storage_options=options)
    assert doubling.submit(workspace=ws).outputs["y"].load() == 42
    ws.close()
    assert "testing-secret" not in (root / "workspace.json").read_text()
    code = (
        "import sys; from headrace.engine import Workspace, PipelineRun; "
        "ws = Workspace(sys.argv[1]); r = ws.history.list_runs()[0]; "
        "print(PipelineRun(ws, r['id']).outputs['y'].load())"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr
