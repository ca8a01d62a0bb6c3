"""Crashes and restarts: a SIGKILL in the middle of an upload exposes no partial blob, the
upload resumes from the reported ``Range`` (or restarts cleanly), earlier content is intact,
and upload sessions survive an orderly restart."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import DriftOnDisk
from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import HttpClient, Reply, chunks_of, with_query
from tests.support.registry import (
    OCTETS,
    PushedImage,
    RegistryApi,
    assert_error,
    upload_offset_from,
)
from tests.support.storage import V2, blob_data

pytestmark = pytest.mark.faults

MIB = 1024 * 1024
BLOB_SIZE = 48 * MIB
SENT_BEFORE_KILL = 16 * MIB


def blob_files(root: Path) -> set[Path]:
    blobs = root / V2 / "blobs"
    return {path for path in blobs.rglob("*") if path.is_file()} if blobs.exists() else set()


class StalledBody:
    """A request body that stops after ``limit`` bytes until released (or the server dies)."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.limit = limit
        self.reached = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in chunks_of(self.data, MIB):
            if sent >= self.limit and not self.reached.is_set():
                self.reached.set()
                self.release.wait(60)
            yield chunk
            sent += len(chunk)


def stream_in_background(
    url: str, method: str, target: str, body: StalledBody
) -> tuple[threading.Thread, list[Reply | BaseException]]:
    outcome: list[Reply | BaseException] = []

    def run() -> None:
        with HttpClient(url) as http:
            try:
                outcome.append(
                    http.request(
                        method, target, body=body, content_length=len(body.data), headers=OCTETS
                    )
                )
            except Exception as error:  # the server dies mid-request: that is the point
                outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def sha256_of_blob(http: HttpClient, repo: str, digest: str) -> str:
    reply = http.get(f"/v2/{repo}/blobs/{digest}")
    assert reply.status == 200, str(reply)
    return f"sha256:{hashlib.sha256(reply.body).hexdigest()}"


def resume_or_restart(http: HttpClient, repo: str, location: str, data: bytes) -> str:
    """Finish an interrupted upload as a client would; returns how it was finished."""
    digest = digest_of(data)
    status = http.get(location)
    if status.status == 404:
        assert_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
        RegistryApi(http).push_blob(repo, data)
        return "restarted"
    assert status.status == 204, str(status)
    offset = upload_offset_from(status)
    assert offset <= SENT_BEFORE_KILL + MIB, f"server claims bytes it never got:\n{status}"
    location = status.header("Location") or location
    reply = http.patch(
        location,
        body=data[offset:],
        headers={**OCTETS, "Content-Range": f"{offset}-{len(data) - 1}"},
    )
    assert reply.status == 202, str(reply)
    assert reply.header("Range") == f"0-{len(data) - 1}", str(reply)
    reply = http.put(with_query(reply.header("Location") or location, digest=digest))
    assert reply.status == 201, str(reply)
    assert reply.header("Docker-Content-Digest") == digest, str(reply)
    return "resumed"


@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST"])
def test_sigkill_during_streamed_upload(drift_on_disk: DriftOnDisk, method: str) -> None:
    registry = drift_on_disk.start()
    http = drift_on_disk.pool(registry).client()
    api = RegistryApi(http)
    earlier: PushedImage = api.push_image("crash/earlier", "v1", layers=3, layer_size=MIB)
    committed = blob_files(drift_on_disk.root)

    repo = "crash/big"
    data = random_bytes(BLOB_SIZE, f"crash-{method}")
    digest = digest_of(data)
    location = api.start_upload(repo)
    target = {
        "PATCH": location,
        "PUT": with_query(location, digest=digest),
        "POST": with_query(api.uploads_path(repo), digest=digest),
    }[method]
    body = StalledBody(data, SENT_BEFORE_KILL)
    thread, outcome = stream_in_background(registry.url, method, target, body)
    try:
        assert body.reached.wait(60), "the upload never got going"
        time.sleep(0.5)  # let the server drain what the socket buffers hold
        registry.kill()
    finally:
        body.release.set()
    thread.join(60)
    assert not thread.is_alive()
    assert outcome, "the upload thread reported nothing"
    assert not isinstance(outcome[0], Reply), f"the upload finished before the kill:\n{outcome[0]}"

    # Nothing partial was committed, whatever the server had written of its upload data.
    assert not blob_data(drift_on_disk.root, digest).exists()
    assert blob_files(drift_on_disk.root) == committed

    registry = drift_on_disk.start()
    http = drift_on_disk.pool(registry).client()
    api = RegistryApi(http)
    assert_error(http.head(api.blob_path(repo, digest)), 404)
    api.assert_pullable(earlier)

    if method == "POST":
        api.push_blob(repo, data)
    else:
        resume_or_restart(http, repo, location, data)
    assert sha256_of_blob(http, repo, digest) == digest
    assert blob_data(drift_on_disk.root, digest).stat().st_size == len(data)
    api.assert_pullable(earlier)


def test_sigkill_between_chunks_then_resume(drift_on_disk: DriftOnDisk) -> None:
    registry = drift_on_disk.start()
    http = drift_on_disk.pool(registry).client()
    api = RegistryApi(http)
    repo = "crash/chunks"
    data = random_bytes(12 * MIB, "chunks")
    location = api.start_upload(repo)
    for start in (0, 4 * MIB):
        reply = http.patch(
            location,
            body=data[start : start + 4 * MIB],
            headers={**OCTETS, "Content-Range": f"{start}-{start + 4 * MIB - 1}"},
        )
        assert reply.status == 202, str(reply)
        location = reply.header("Location") or location
    registry.kill()

    registry = drift_on_disk.start()
    http = drift_on_disk.pool(registry).client()
    status = http.get(location)
    assert status.status == 204, str(status)
    assert status.header("Range") == f"0-{8 * MIB - 1}", str(status)
    assert resume_or_restart(http, repo, location, data) == "resumed"
    assert sha256_of_blob(http, repo, digest_of(data)) == digest_of(data)


def test_upload_session_survives_orderly_restart(drift_on_disk: DriftOnDisk) -> None:
    registry = drift_on_disk.start()
    http = drift_on_disk.pool(registry).client()
    api = RegistryApi(http)
    repo = "restart/session"
    data = random_bytes(6 * MIB + 123, "restart")
    digest = digest_of(data)
    location = api.start_upload(repo)
    reply = http.patch(location, body=data[: 5 * MIB], headers=OCTETS)
    assert reply.status == 202, str(reply)
    location = reply.header("Location") or location
    earlier = api.push_image("restart/earlier", "v1")
    registry.stop()

    registry = drift_on_disk.start()
    http = drift_on_disk.pool(registry).client()
    api = RegistryApi(http)
    status = http.get(location)
    assert status.status == 204, str(status)
    assert status.header("Range") == f"0-{5 * MIB - 1}", str(status)
    reply = http.put(
        with_query(status.header("Location") or location, digest=digest),
        body=data[5 * MIB :],
        headers={**OCTETS, "Content-Range": f"{5 * MIB}-{len(data) - 1}"},
    )
    assert reply.status == 201, str(reply)
    assert sha256_of_blob(http, repo, digest) == digest
    api.assert_pullable(earlier)
