"""Three stateless Drift nodes on one bucket prefix with one DRIFT_SECRET, as behind a load
balancer without sticky sessions: an upload started on one node continues and commits on the
others, and whatever one node writes (tags, deletes, referrers, repositories) every other node
serves at once. Node 3 runs two worker processes, so per-process caches are crossed as well:
each read below goes out on fresh connections until both of its workers answered."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest

from tests.support.checks import assert_copy_identical
from tests.support.images import build_image
from tests.support.layouts import read_oci_layout, write_oci_layout
from tests.support.oci import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
)
from tests.support.rawhttp import HttpClient, Reply, with_query
from tests.support.registry import (
    OCTETS,
    PushedImage,
    RegistryApi,
    assert_error,
    unique_repo,
    upload_offset_from,
)
from tests.support.seaweedfs import SeaweedFS, new_prefix
from tests.support.servers import RunningRegistry, start_drift
from tests.support.skopeo import Skopeo
from tests.support.sockets import connection_owner

pytestmark = pytest.mark.clients

MIB = 1 << 20
SECRET = "three-nodes-shared-secret-for-upload-state"
MAX_CONNECTIONS = 40  # to reach every worker of a node


def node_env(seaweedfs: SeaweedFS, prefix: str, secret: str) -> dict[str, str]:
    return {**seaweedfs.drift_env(prefix), "DRIFT_SECRET": secret, "DRIFT_S3_PART_SIZE": "5MiB"}


@pytest.fixture(scope="module")
def prefix() -> str:
    return new_prefix()


@pytest.fixture(scope="module")
def nodes(
    seaweedfs: SeaweedFS, prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RunningRegistry]]:
    env = node_env(seaweedfs, prefix, SECRET)
    tmp = tmp_path_factory.mktemp("s3-nodes")
    with ThreadPoolExecutor(3) as pool:
        starting = [
            pool.submit(start_drift, tmp / f"node{number}", workers=workers, env=env)
            for number, workers in ((1, 1), (2, 1), (3, 2))
        ]
        wait(starting)
    try:
        yield [future.result() for future in starting]
    finally:
        for future in starting:
            if future.exception() is None:
                future.result().stop()


def api(node: RunningRegistry) -> RegistryApi:
    return RegistryApi(HttpClient(node.url))


def fresh_reads(node: RunningRegistry, target: str, accept: str = OCI_MANIFEST) -> list[Reply]:
    """GETs of ``target`` on fresh connections until every worker process of the node answered
    one: a stale per-process cache anywhere would show."""
    workers = set(node.pids()[1:]) or {node.process.pid}  # a single worker serves in-process
    answered: set[int | None] = set()
    replies = []
    for _ in range(MAX_CONNECTIONS):
        with HttpClient(node.url) as http:
            replies.append(http.get(target, headers={"Accept": accept}))
            answered.add(connection_owner(node.pids(), node.port, http.local_port))
        if workers <= answered:
            return replies
    raise AssertionError(f"{MAX_CONNECTIONS} connections reached only {answered} of {workers}")


def assert_everywhere(
    nodes: list[RunningRegistry], target: str, status: int, body: bytes | None = None
) -> None:
    for node in nodes:
        for reply in fresh_reads(node, target):
            assert reply.status == status, f"{node.url}:\n{reply}"
            if body is not None:
                assert reply.body == body, f"{node.url} serves other bytes:\n{reply}"


def push_image_via(node: RunningRegistry, repo: str, tag: str, seed: str) -> PushedImage:
    client = api(node)
    try:
        return client.push_image(repo, tag, layers=1, layer_size=2048, seed=seed)
    finally:
        client.http.close()


def test_chunked_push_crosses_three_nodes(
    nodes: list[RunningRegistry], seaweedfs: SeaweedFS, prefix: str, tmp_path: Path
) -> None:
    one, two, three = (api(node) for node in nodes)
    repo = unique_repo("nodes")
    data = random.Random("three nodes").randbytes(17 * MIB + 4321)
    digest = digest_of(data)
    pieces = [(0, 6 * MIB + 17), (6 * MIB + 17, 13 * MIB), (13 * MIB, len(data))]

    location = one.start_upload(repo)
    for client, (start, end) in zip((one, two, three), pieces, strict=True):
        reply = client.http.patch(
            location,
            body=data[start:end],
            headers={**OCTETS, "Content-Range": f"{start}-{end - 1}"},
        )
        assert reply.status == 202, str(reply)
        assert upload_offset_from(reply) == end
        location = reply.header("Location") or ""
        for other in (one, two, three):  # every node knows the session's size
            status = other.upload_status(location)
            assert status.status == 204, str(status)
            assert upload_offset_from(status) == end
            assert_error(other.http.head(other.blob_path(repo, digest)), 404, "BLOB_UNKNOWN")

    # a node without the shared secret refuses the session's signed state
    stranger_env = node_env(seaweedfs, prefix, "another-secret-of-another-site")
    with (
        start_drift(tmp_path / "stranger", env=stranger_env) as stranger,
        HttpClient(stranger.url) as http,
    ):
        assert_error(http.put(with_query(location, digest=digest)), 400, "BLOB_UPLOAD_INVALID")

    # node 1 hashed only the first chunk: it must catch up from storage, not trust that state
    done = one.http.put(with_query(location, digest=digest))
    assert done.status == 201, str(done)
    assert done.header("Docker-Content-Digest") == digest
    for client in (three, two):
        fetched = client.http.get(client.blob_path(repo, digest))
        assert fetched.status == 200, str(fetched)
        assert hashlib.sha256(fetched.body).hexdigest() == digest.split(":")[1]

    config = b'{"architecture":"amd64","os":"linux"}'
    two.push_blob(repo, config)
    manifest = image_manifest(
        descriptor(OCI_CONFIG, config), [descriptor(OCI_LAYER, data)], media_type=OCI_MANIFEST
    )
    two.push_manifest(repo, "v1", manifest, OCI_MANIFEST)
    assert_everywhere(nodes[2:], f"/v2/{repo}/manifests/v1", 200, manifest)
    assert_everywhere(nodes, f"/v2/{repo}/manifests/{digest_of(manifest)}", 200, manifest)
    for client in (one, two, three):
        client.http.close()


def test_skopeo_pushes_through_node_1_and_pulls_through_node_3(
    nodes: list[RunningRegistry], skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    image = build_image(rng, layer_sizes=(32 * 1024, 6 * MIB + 999))
    write_oci_layout(tmp_path / "src", {"v1": image.manifest}, image.blobs)
    first, second, third = (f"docker://{node.host_port}/nodes/skopeo:v1" for node in nodes)

    skopeo.copy(f"oci:{tmp_path / 'src'}:v1", first)

    assert skopeo.inspect_raw(second) == image.manifest.data
    skopeo.copy(third, f"oci:{tmp_path / 'out'}:v1")
    assert_copy_identical(read_oci_layout(tmp_path / "out"), "v1", image.manifest, image.blobs)


def test_tag_changes_on_one_node_are_served_by_all_at_once(nodes: list[RunningRegistry]) -> None:
    repo = unique_repo("tags")
    first = push_image_via(nodes[0], repo, "first", seed=f"{repo}/a")
    second = push_image_via(nodes[1], repo, "second", seed=f"{repo}/b")
    moving = f"/v2/{repo}/manifests/latest"
    client_one, client_two, client_three = (api(node) for node in nodes)

    client_one.push_manifest(repo, "latest", first.manifest, OCI_MANIFEST)
    assert_everywhere(nodes, moving, 200, first.manifest)  # every node has read (cached) it

    client_two.push_manifest(repo, "latest", second.manifest, OCI_MANIFEST)
    assert_everywhere(nodes, moving, 200, second.manifest)

    assert client_three.http.delete(moving).status == 202
    for node in nodes:
        for reply in fresh_reads(node, moving):
            assert_error(reply, 404, "MANIFEST_UNKNOWN")
        with HttpClient(node.url) as http:
            tags = http.get(f"/v2/{repo}/tags/list")
        assert tags.json() == {"name": repo, "tags": ["first", "second"]}, str(tags)

    # by digest: the revision and its tag go; content cached by digest must not resurface
    by_digest = f"/v2/{repo}/manifests/{first.digest}"
    assert_everywhere(nodes, by_digest, 200, first.manifest)
    assert client_one.http.delete(by_digest).status == 202
    for node in nodes:
        for reply in fresh_reads(node, by_digest):
            assert_error(reply, 404, "MANIFEST_UNKNOWN")
        for reply in fresh_reads(node, f"/v2/{repo}/manifests/first"):
            assert_error(reply, 404, "MANIFEST_UNKNOWN")
    for client in (client_one, client_two, client_three):
        client.http.close()


def referrer_digests(node: RunningRegistry, repo: str, subject: str) -> set[str]:
    found: set[str] = set()
    for reply in fresh_reads(node, f"/v2/{repo}/referrers/{subject}", "application/json"):
        assert reply.status == 200, str(reply)
        digests = {entry["digest"] for entry in reply.json()["manifests"]}
        assert not found or digests == found, f"workers of {node.url} disagree"
        found = digests
    return found


def test_referrers_follow_pushes_and_deletes_on_other_nodes(
    nodes: list[RunningRegistry],
) -> None:
    repo = unique_repo("referrers")
    subject = push_image_via(nodes[0], repo, "v1", seed=f"{repo}/subject")
    assert all(referrer_digests(node, repo, subject.digest) == set() for node in nodes)

    client = api(nodes[0])
    empty = b"{}"
    client.push_blob(repo, empty)
    artifact = image_manifest(
        descriptor("application/vnd.oci.empty.v1+json", empty),
        [descriptor("application/vnd.oci.empty.v1+json", empty)],
        subject=descriptor(OCI_MANIFEST, subject.manifest),
        artifact_type="application/vnd.example.sbom",
    )
    reply = client.put_manifest(repo, digest_of(artifact), artifact, OCI_MANIFEST)
    assert reply.status == 201, str(reply)
    listed = {digest_of(artifact)}
    assert all(referrer_digests(node, repo, subject.digest) == listed for node in nodes)

    deleted = api(nodes[1]).http.delete(f"/v2/{repo}/manifests/{digest_of(artifact)}")
    assert deleted.status == 202, str(deleted)
    assert all(referrer_digests(node, repo, subject.digest) == set() for node in nodes)
    client.http.close()


def test_catalog_is_the_same_on_every_node(nodes: list[RunningRegistry]) -> None:
    repos = sorted(unique_repo("catalog") for _ in range(3))
    for node, repo in zip(nodes, repos, strict=True):
        push_image_via(node, repo, "v1", seed=repo)
    catalogs = []
    for node in nodes:
        with HttpClient(node.url) as http:
            reply = http.get("/v2/_catalog?n=1000")
        assert reply.status == 200, str(reply)
        catalogs.append(reply.json()["repositories"])
    assert catalogs[0] == catalogs[1] == catalogs[2]
    assert set(repos) <= set(catalogs[0])
