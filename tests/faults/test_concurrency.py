"""Concurrent pushes end consistent: the same blob from 8 clients is stored once and intact;
8 clients moving one tag leave it on one of the pushed manifests, fully readable."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from tests.support.oci import OCI_MANIFEST, descriptor, digest_of, image_manifest, random_bytes
from tests.support.rawhttp import HttpClient, Reply, chunks_of, with_query
from tests.support.registry import OCTETS, ClientPool, RegistryApi, unique_repo
from tests.support.servers import RunningRegistry
from tests.support.storage import V2, blob_data, layer_link, read_link, tag_link

pytestmark = pytest.mark.faults

CLIENTS = 8
T = TypeVar("T")


def run_together(count: int, work: Callable[[int, threading.Barrier], T]) -> list[T]:
    """Run ``work(i, barrier)`` on ``count`` threads; they meet at the barrier before racing."""
    barrier = threading.Barrier(count, timeout=60)
    with ThreadPoolExecutor(count) as executor:
        futures = [executor.submit(work, index, barrier) for index in range(count)]
        return [future.result(timeout=300) for future in futures]


def test_same_blob_from_eight_clients(shared_drift: RunningRegistry, pool: ClientPool) -> None:
    data = random_bytes(4 * 1024 * 1024 + 11, unique_repo("same-blob"))
    digest = digest_of(data)
    base = unique_repo("same-blob")
    repos = [f"{base}/r{index % 2}" for index in range(CLIENTS)]
    clients = [pool.client() for _ in range(CLIENTS)]

    def push(index: int, barrier: threading.Barrier) -> Reply:
        http, repo = clients[index], repos[index]
        if index % 3 == 0:
            barrier.wait()
            return http.post(
                with_query(f"/v2/{repo}/blobs/uploads/", digest=digest), body=data, headers=OCTETS
            )
        location = RegistryApi(http).start_upload(repo)
        barrier.wait()
        reply = http.patch(location, body=chunks_of(data, 256 * 1024), headers=OCTETS)
        assert reply.status == 202, str(reply)
        return http.put(with_query(reply.header("Location") or location, digest=digest))

    for reply in run_together(CLIENTS, push):
        assert reply.status == 201, str(reply)
        assert reply.header("Docker-Content-Digest") == digest, str(reply)

    http = pool.client()
    for repo in set(repos):
        got = http.get(f"/v2/{repo}/blobs/{digest}")
        assert got.status == 200, str(got)
        assert got.body == data
        assert read_link(layer_link(shared_drift.root, repo, digest)) == digest
    stored = blob_data(shared_drift.root, digest)
    assert stored.read_bytes() == data
    # One file per digest, and no temporary file left next to committed content.
    assert [path.name for path in stored.parent.iterdir()] == ["data"]
    blob_root = shared_drift.root / V2 / "blobs"
    assert {path.name for path in blob_root.rglob("*") if path.is_file()} == {"data"}


def test_same_tag_from_eight_clients(shared_drift: RunningRegistry, pool: ClientPool) -> None:
    repo = unique_repo("same-tag")
    setup = RegistryApi(pool.client())
    config = b'{"architecture":"amd64","os":"linux"}'
    layer = random_bytes(200_000, repo)
    setup.push_blob(repo, config)
    setup.push_blob(repo, layer)
    manifests = [
        image_manifest(
            descriptor("application/vnd.oci.image.config.v1+json", config),
            [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
            annotations={"client": str(index)},
        )
        for index in range(CLIENTS)
    ]
    by_digest = {digest_of(body): body for body in manifests}
    clients = [pool.client() for _ in range(CLIENTS)]

    for round_number in range(3):
        tag = f"race{round_number}"

        def push(index: int, barrier: threading.Barrier, tag: str = tag) -> Reply:
            http = clients[index]
            barrier.wait()
            return http.put(
                f"/v2/{repo}/manifests/{tag}",
                body=manifests[index],
                headers={"Content-Type": OCI_MANIFEST},
            )

        for reply in run_together(CLIENTS, push):
            assert reply.status == 201, str(reply)

        http = pool.client()
        got = http.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200, str(got)
        winner = got.header("Docker-Content-Digest")
        assert winner in by_digest, str(got)
        assert got.body == by_digest[winner]
        assert digest_of(got.body) == winner
        assert read_link(tag_link(shared_drift.root, repo, tag)) == winner
        assert json.loads(got.body)["annotations"]["client"] in {str(i) for i in range(CLIENTS)}

    http = pool.client()
    for digest, body in by_digest.items():
        got = http.get(f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200, str(got)
        assert got.body == body
    for blob in (config, layer):
        assert http.get(f"/v2/{repo}/blobs/{digest_of(blob)}").body == blob
    tags = http.get(f"/v2/{repo}/tags/list").json()["tags"]
    assert tags == ["race0", "race1", "race2"]


def test_two_patches_on_one_session(pool: ClientPool) -> None:
    """Two writers on one upload: at most one chunk lands, the session stays usable."""
    repo = unique_repo("double-patch")
    data = random_bytes(2 * 1024 * 1024, repo)
    first = pool.client()
    location = RegistryApi(first).start_upload(repo)
    clients: list[HttpClient] = [first, pool.client()]

    def patch(index: int, barrier: threading.Barrier) -> Reply:
        barrier.wait()
        return clients[index].patch(
            location,
            body=chunks_of(data, 64 * 1024),
            headers={**OCTETS, "Content-Range": f"0-{len(data) - 1}"},
        )

    replies = run_together(2, patch)
    statuses = sorted(reply.status for reply in replies)
    assert statuses[0] == 202, [str(reply) for reply in replies]
    assert statuses[1] in {202, 409, 416, 423, 400}, [str(reply) for reply in replies]
    status = first.get(location)
    assert status.status == 204, str(status)
    assert status.header("Range") == f"0-{len(data) - 1}", str(status)
    reply = first.put(with_query(status.header("Location") or location, digest=digest_of(data)))
    assert reply.status == 201, str(reply)
    assert first.get(f"/v2/{repo}/blobs/{digest_of(data)}").body == data
