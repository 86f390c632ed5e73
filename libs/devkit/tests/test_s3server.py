"""The local S3 server: a real SeaweedFS that checks signatures, stops for real and comes back
with its data; and the messages when it cannot start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from devkit import s3admin
from devkit.s3server import S3Server, S3ServerError
from devkit.servers import port_open
from devkit.weed import WeedPorts, stale_sockets
from events.testing import wait_for


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[S3Server]:
    """A server of this test's own, since the test stops it."""
    with S3Server(tmp_path / "s3") as server:
        yield server


def test_answers_signed_requests_and_refuses_unsigned_ones(s3_server: S3Server) -> None:
    bucket = f"probe-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    s3_server.create_bucket(bucket)  # creating it again is fine
    try:
        s3 = s3_server.client()
        s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
        assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"
        unsigned = httpx.get(f"{s3_server.endpoint_url}/{bucket}/hello.txt")
        assert unsigned.status_code == 403
        wrong = s3admin.client(
            s3_server.endpoint_url, s3_server.access_key, "not-the-secret", s3_server.region
        )
        with pytest.raises(ClientError) as refused:
            wrong.get_object(Bucket=bucket, Key="hello.txt")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        s3_server.delete_bucket(bucket)
    assert not s3_server.bucket_exists(bucket)
    s3_server.delete_bucket(bucket)  # deleting an absent bucket is fine


async def test_stop_refuses_connections_and_restart_keeps_ports_and_data(
    own_server: S3Server, s3_server: S3Server
) -> None:
    assert not set(own_server.ports.all()) & set(s3_server.ports.all())  # side by side
    own_server.create_bucket("kept")
    own_server.client().put_object(Bucket="kept", Key="a/b", Body=b"still here")
    endpoint = own_server.endpoint_url

    await own_server.astop()
    assert not own_server.running
    assert not any(port_open("127.0.0.1", port) for port in own_server.ports.all())
    with pytest.raises(EndpointConnectionError):
        own_server.client().list_buckets()

    await own_server.arestart()
    assert own_server.endpoint_url == endpoint
    body = own_server.client().get_object(Bucket="kept", Key="a/b")["Body"].read()
    assert body == b"still here"


def test_a_missing_binary_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVKIT_WEED", str(tmp_path / "no-such-weed"))
    with pytest.raises(S3ServerError, match="not an executable"):
        S3Server(tmp_path / "s3").start()


def test_a_weed_that_dies_at_start_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'cannot open the volume directory' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DEVKIT_WEED", str(fake))
    with pytest.raises(S3ServerError, match=r"exited with code 3(.|\n)*volume directory"):
        S3Server(tmp_path / "s3").start()


def test_a_taken_port_is_named(s3_server: S3Server, tmp_path: Path) -> None:
    clash = WeedPorts.free(s3=s3_server.port)
    with pytest.raises(S3ServerError, match=rf"{s3_server.port}.*already in use"):
        S3Server(tmp_path / "s3", ports=clash).start()


def test_the_fixture_fails_the_test_when_weed_cannot_start(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_needs_s3(s3_server):\n    pass\n")
    monkeypatch.setenv("DEVKIT_WEED", "/nonexistent/weed")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)  # an error, not a skip
    result.stdout.fnmatch_lines(["*the test S3 server could not start*not an executable*"])


def test_the_developer_command_serves_until_terminated(tmp_path: Path) -> None:
    port = WeedPorts.free().s3
    root = tmp_path / "dev-s3"
    with subprocess.Popen(
        [sys.executable, "-m", "devkit.s3cli", "--port", str(port), "--dir", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # printed once S3 answers
            assert f"S3 on http://127.0.0.1:{port}" in banner, banner
            ports = WeedPorts.load(root / "ports.json")
            assert ports is not None and ports.s3 == port
            server = S3Server(root, ports=ports)
            assert server.client().list_buckets()["Buckets"] == []
        finally:
            process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert not port_open("127.0.0.1", port)


def start_then_kill(script: str) -> str:
    """Run `script` until it prints a line, then kill it; returns the line."""
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None
        line = run.stdout.readline()
        run.kill()  # no cleanup code runs: as when a CI timeout kills pytest
        run.wait(10)
    return line


async def test_weed_does_not_outlive_a_killed_test_run(tmp_path: Path) -> None:
    script = (
        "import time\n"
        "from devkit.s3server import S3Server\n"
        f"server = S3Server({str(tmp_path / 's3')!r}).start()\n"
        "print(server.pid, server.ports.all(), flush=True)\n"
        "time.sleep(60)\n"
    )
    pid, ports = start_then_kill(script).split(" ", 1)

    def weed_gone() -> bool:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        try:  # a zombie until init reaps it: dead all the same
            return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
        except FileNotFoundError:
            return True  # reaped in between

    await wait_for(weed_gone, timeout=10, message=f"weed {pid} outlived the process that ran it")
    killed = WeedPorts(*json.loads(ports))
    await wait_for(
        lambda: not any(port_open("127.0.0.1", port) for port in killed.all()),
        timeout=10,
        message=f"a port of the killed weed still answers: {killed.all()}",
    )
    for sock in stale_sockets(killed):  # what only stop() would have removed
        sock.unlink(missing_ok=True)
