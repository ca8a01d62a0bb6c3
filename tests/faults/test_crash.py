"""Crashes and restarts: a SIGKILL in the middle of an upload exposes no partial blob, the
upload resumes from the reported ``Range`` (or restarts cleanly), earlier content is intact,
and upload sessions survive an orderly restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import DriftOnDisk
from tests.support.interrupted import (
    StalledBody,
    resume_or_restart,
    sha256_of_blob,
    stream_in_background,
)
from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import Reply, with_query
from tests.support.registry import OCTETS, PushedImage, RegistryApi, assert_error
from tests.support.storage import V2, blob_data

pytestmark = pytest.mark.faults

MIB = 1024 * 1024
BLOB_SIZE = 48 * MIB
SENT_BEFORE_KILL = 16 * MIB


def blob_files(root: Path) -> set[Path]:
    blobs = root / V2 / "blobs"
    return {path for path in blobs.rglob("*") if path.is_file()} if blobs.exists() else set()


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
        resume_or_restart(http, repo, location, data, SENT_BEFORE_KILL + MIB)
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
    assert resume_or_restart(http, repo, location, data, SENT_BEFORE_KILL + MIB) == "resumed"
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
