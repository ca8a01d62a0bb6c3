"""What an API push leaves on disk: CNCF distribution's v2 layout, content stored once per
digest, links per repository (so the reference registry can serve the same directory)."""

from __future__ import annotations

from tests.api.manifests_support import push_manifest_of_type
from tests.support.oci import OCI_MANIFEST, digest_of, random_bytes
from tests.support.registry import RegistryApi, unique_repo
from tests.support.servers import RunningRegistry
from tests.support.storage import V2, blob_data, layer_link, read_link, tag_link


def test_identical_blobs_are_stored_once(api: RegistryApi, registry: RunningRegistry) -> None:
    data = random_bytes(64 * 1024, "stored once")
    repos = [unique_repo("layout") for _ in range(3)]
    for algorithm in ("sha256", "sha512"):
        digest = digest_of(data, algorithm)
        for repo in repos:
            assert api.push_blob(repo, data, algorithm) == digest
        stored = blob_data(registry.root, digest)
        assert stored.read_bytes() == data
        copies = [
            path
            for path in (registry.root / V2 / "blobs" / algorithm).rglob("data")
            if path.read_bytes() == data
        ]
        assert copies == [stored]
        for repo in repos:
            assert read_link(layer_link(registry.root, repo, digest)) == digest


def test_manifest_and_tag_links(api: RegistryApi, registry: RunningRegistry) -> None:
    repo = unique_repo("layout")
    body = push_manifest_of_type(api, repo, OCI_MANIFEST)
    api.push_manifest(repo, "v1", body, OCI_MANIFEST)
    digest = digest_of(body)
    assert read_link(tag_link(registry.root, repo, "v1")) == digest
    revision = registry.root / V2 / "repositories" / repo / "_manifests" / "revisions"
    assert read_link(revision / "sha256" / digest.split(":")[1] / "link") == digest
    assert blob_data(registry.root, digest).read_bytes() == body
