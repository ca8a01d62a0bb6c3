"""Graceful shutdown: on SIGTERM ``/readyz`` turns 503 while the listener still serves (drain),
then the listener closes, the upload in flight completes, and the process exits 0; an upload cut
by the shutdown deadline keeps its data and resumes after a restart."""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.interrupted import (
    StalledBody,
    resume_or_restart,
    sha256_of_blob,
    stream_in_background,
)
from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import HttpClient, Reply, with_query
from tests.support.registry import RegistryApi, upload_offset_from
from tests.support.servers import RunningRegistry, start_drift

pytestmark = pytest.mark.deploy

MIB = 1024 * 1024
BLOB_SIZE = 8 * MIB
STALL_AT = 4 * MIB
DRAIN_SECONDS = 2


def probe(registry: RunningRegistry, path: str) -> int | None:
    """The status of ``GET path`` on a new connection, None when no connection is accepted."""
    conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def wait_for(predicate: object, what: str, timeout: float = 15.0) -> float:
    """Poll ``predicate`` until true; returns when it turned true (monotonic)."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_drains_then_lets_the_upload_in_flight_finish(tmp_path: Path) -> None:
    root = tmp_path / "data"
    env = {"DRIFT_DRAIN_SECONDS": str(DRAIN_SECONDS), "DRIFT_SHUTDOWN_TIMEOUT": "30s"}
    repo = "shutdown/in-flight"
    data = random_bytes(BLOB_SIZE, "in-flight")
    body = StalledBody(data, STALL_AT)
    with start_drift(root, workers=2, env=env) as registry:
        try:
            location = RegistryApi(HttpClient(registry.url)).start_upload(repo)
            thread, outcome = stream_in_background(registry.url, "PATCH", location, body)
            assert body.reached.wait(30), "the upload never got going"
            assert probe(registry, "/readyz") == 200

            signalled = time.monotonic()
            os.kill(registry.process.pid, signal.SIGTERM)
            wait_for(lambda: probe(registry, "/readyz") == 503, "/readyz to turn 503")
            assert probe(registry, "/v2/") == 200, "the drain must still serve requests"
            assert probe(registry, "/healthz") == 200
            assert time.monotonic() - signalled < DRAIN_SECONDS, "the checks outlasted the drain"
            closed = wait_for(lambda: probe(registry, "/v2/") is None, "the listener to close")
            assert closed - signalled >= DRAIN_SECONDS - 0.2, "the listener closed before the drain"
            assert registry.process.poll() is None, "exited with a request still in flight"
        finally:
            body.release.set()
        thread.join(30)
        assert outcome, "the upload thread reported nothing"
        reply = outcome[0]
        assert isinstance(reply, Reply), f"the upload in flight was cut: {reply!r}"
        assert reply.status == 202, str(reply)
        assert reply.header("Range") == f"0-{BLOB_SIZE - 1}", str(reply)
        assert registry.process.wait(30) == 0, registry.log_tail()

    with start_drift(root) as registry, HttpClient(registry.url) as http:
        digest = digest_of(data)
        done = http.put(with_query(reply.header("Location") or location, digest=digest))
        assert done.status == 201, str(done)
        assert sha256_of_blob(http, repo, digest) == digest


def test_upload_cut_by_the_shutdown_deadline_resumes_after_restart(tmp_path: Path) -> None:
    root = tmp_path / "data"
    env = {"DRIFT_DRAIN_SECONDS": "0", "DRIFT_SHUTDOWN_TIMEOUT": "1s"}
    repo = "shutdown/deadline"
    data = random_bytes(BLOB_SIZE, "deadline")
    body = StalledBody(data, STALL_AT)
    with start_drift(root, env=env) as registry:
        try:
            location = RegistryApi(HttpClient(registry.url)).start_upload(repo)
            thread, outcome = stream_in_background(registry.url, "PATCH", location, body)
            assert body.reached.wait(30), "the upload never got going"
            time.sleep(0.3)  # let the server take in what the socket buffers hold
            signalled = time.monotonic()
            os.kill(registry.process.pid, signal.SIGTERM)
            assert registry.process.wait(15) == 0, registry.log_tail()
            assert time.monotonic() - signalled < 8, "the shutdown deadline was not enforced"
        finally:
            body.release.set()
        thread.join(30)
        assert outcome, "the upload thread reported nothing"
        assert not isinstance(outcome[0], Reply), f"the stalled upload finished: {outcome[0]}"

    with start_drift(root) as registry, HttpClient(registry.url) as http:
        kept = upload_offset_from(http.get(location))
        assert kept >= STALL_AT - MIB, f"the upload lost data it had received: {kept} bytes"
        assert resume_or_restart(http, repo, location, data, STALL_AT + MIB) == "resumed"
        assert sha256_of_blob(http, repo, digest_of(data)) == digest_of(data)
