"""The referrers API (end-12a/12b): an OCI index of the manifests whose ``subject`` is a digest,
``artifactType`` filtering with ``OCI-Filters-Applied``, never 404 for a well-formed digest."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.manifests_support import push_manifest_of_type, push_parts
from tests.support.oci import (
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
    index_manifest,
)
from tests.support.rawhttp import HttpClient, Reply, with_query
from tests.support.registry import RegistryApi, assert_error, next_link, unique_repo

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE_CONFIG = "application/vnd.example.signature.config.v1+json"
BUNDLE = "application/vnd.example.bundle.v1"


def referrers(client: HttpClient, repo: str, digest: str, **query: str) -> tuple[Reply, list[Any]]:
    """All descriptors, following ``Link`` pages; the reply is the first page's."""
    target: str | None = with_query(f"/v2/{repo}/referrers/{digest}", **query)
    first: Reply | None = None
    manifests: list[Any] = []
    while target is not None:
        reply = client.get(target)
        first = first or reply
        assert reply.status == 200, str(reply)
        assert reply.header("Content-Type") == OCI_INDEX, str(reply)
        document = reply.json()
        assert document["schemaVersion"] == 2, str(reply)
        assert document["mediaType"] == OCI_INDEX, str(reply)
        assert isinstance(document["manifests"], list), str(reply)
        manifests.extend(document["manifests"])
        target = next_link(reply)
        assert len(manifests) < 10_000
    assert first is not None
    return first, manifests


def by_digest(manifests: list[Any]) -> dict[str, Any]:
    return {item["digest"]: item for item in manifests}


@pytest.fixture
def subject(api: RegistryApi, repo: str) -> dict[str, Any]:
    body = push_manifest_of_type(api, repo, OCI_MANIFEST, seed="subject")
    api.push_manifest(repo, "subject", body, OCI_MANIFEST)
    return descriptor(OCI_MANIFEST, body)


def push_artifact(
    api: RegistryApi,
    repo: str,
    subject: dict[str, Any],
    *,
    artifact_type: str | None,
    config_type: str = OCI_EMPTY,
    annotations: dict[str, str] | None = None,
    seed: str,
) -> bytes:
    api.push_blob(repo, b"{}")
    payload = f"{seed} payload".encode()
    api.push_blob(repo, payload)
    body = image_manifest(
        {"mediaType": config_type, "digest": digest_of(b"{}"), "size": 2},
        [descriptor("application/octet-stream", payload)],
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )
    reply = api.push_manifest(repo, digest_of(body), body, OCI_MANIFEST)
    assert reply.header("OCI-Subject") == subject["digest"], str(reply)
    return body


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_unknown_subject_gives_an_empty_index(
    api: RegistryApi, client: HttpClient, repo: str, algorithm: str
) -> None:
    api.push_blob(repo, b"repository exists")
    reply, manifests = referrers(client, repo, digest_of(b"no such subject", algorithm))
    assert manifests == []
    assert reply.header("OCI-Filters-Applied") is None


def test_unknown_repository_is_not_404(client: HttpClient) -> None:
    _, manifests = referrers(client, unique_repo("api"), digest_of(b"anything"))
    assert manifests == []


def test_referrers_descriptors(
    api: RegistryApi, client: HttpClient, repo: str, subject: dict[str, Any]
) -> None:
    sbom = push_artifact(
        api,
        repo,
        subject,
        artifact_type=SBOM,
        annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "x": "1"},
        seed="sbom",
    )
    signature = push_artifact(
        api,
        repo,
        subject,
        artifact_type=None,
        config_type=SIGNATURE_CONFIG,
        annotations={"org.example.signature.fingerprint": "abcd"},
        seed="signature",
    )
    bundle_members = [descriptor(OCI_MANIFEST, signature)]
    bundle = index_manifest(bundle_members, subject=subject, annotations={"kind": "bundle"})
    api.push_manifest(repo, digest_of(bundle), bundle, OCI_INDEX)
    typed_bundle = index_manifest(bundle_members, subject=subject, artifact_type=BUNDLE)
    api.push_manifest(repo, digest_of(typed_bundle), typed_bundle, OCI_INDEX)
    unrelated = push_artifact(
        api, repo, descriptor(OCI_MANIFEST, b"another subject"), artifact_type=SBOM, seed="other"
    )

    reply, manifests = referrers(client, repo, subject["digest"])
    assert reply.header("OCI-Filters-Applied") is None, str(reply)
    found = by_digest(manifests)
    assert len(manifests) == len(found) == 4, manifests
    assert digest_of(unrelated) not in found
    assert found[digest_of(sbom)] == {
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(sbom),
        "size": len(sbom),
        "artifactType": SBOM,
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "x": "1"},
    }
    # No artifactType on the manifest: the config media type stands in for it.
    assert found[digest_of(signature)] == {
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(signature),
        "size": len(signature),
        "artifactType": SIGNATURE_CONFIG,
        "annotations": {"org.example.signature.fingerprint": "abcd"},
    }
    # An index without artifactType: the descriptor has none either.
    assert found[digest_of(bundle)] == {
        "mediaType": OCI_INDEX,
        "digest": digest_of(bundle),
        "size": len(bundle),
        "annotations": {"kind": "bundle"},
    }
    assert found[digest_of(typed_bundle)]["artifactType"] == BUNDLE
    assert (
        "annotations" not in found[digest_of(typed_bundle)]
        or not (found[digest_of(typed_bundle)]["annotations"])
    )


def test_artifact_type_filter(
    api: RegistryApi, client: HttpClient, repo: str, subject: dict[str, Any]
) -> None:
    sbom = push_artifact(api, repo, subject, artifact_type=SBOM, seed="sbom")
    signature = push_artifact(
        api, repo, subject, artifact_type=None, config_type=SIGNATURE_CONFIG, seed="sig"
    )

    reply, manifests = referrers(client, repo, subject["digest"], artifactType=SBOM)
    assert reply.header("OCI-Filters-Applied") == "artifactType", str(reply)
    assert [item["digest"] for item in manifests] == [digest_of(sbom)]

    reply, manifests = referrers(client, repo, subject["digest"], artifactType=SIGNATURE_CONFIG)
    assert reply.header("OCI-Filters-Applied") == "artifactType", str(reply)
    assert [item["digest"] for item in manifests] == [digest_of(signature)]

    reply, manifests = referrers(client, repo, subject["digest"], artifactType="application/none")
    assert reply.header("OCI-Filters-Applied") == "artifactType", str(reply)
    assert manifests == []


def test_referrer_pushed_before_its_subject(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    future = push_manifest_of_type(api, repo, OCI_MANIFEST, seed="later")
    subject = descriptor(OCI_MANIFEST, future)
    early = push_artifact(api, repo, subject, artifact_type=SBOM, seed="early")
    api.push_manifest(repo, "later", future, OCI_MANIFEST)
    _, manifests = referrers(client, repo, subject["digest"])
    assert [item["digest"] for item in manifests] == [digest_of(early)]


def test_sha512_subject(api: RegistryApi, client: HttpClient, repo: str) -> None:
    config, layers = push_parts(api, repo, algorithm="sha512")
    body = image_manifest(config, layers)
    digest = digest_of(body, "sha512")
    api.push_manifest(repo, digest, body, OCI_MANIFEST)
    subject = descriptor(OCI_MANIFEST, body, algorithm="sha512")
    artifact = push_artifact(api, repo, subject, artifact_type=SBOM, seed="sha512")
    _, manifests = referrers(client, repo, digest)
    assert [item["digest"] for item in manifests] == [digest_of(artifact)]


def test_deleted_referrer_disappears(
    api: RegistryApi, client: HttpClient, repo: str, subject: dict[str, Any]
) -> None:
    kept = push_artifact(api, repo, subject, artifact_type=SBOM, seed="kept")
    gone = push_artifact(api, repo, subject, artifact_type=SBOM, seed="gone")
    reply = client.delete(api.manifest_path(repo, digest_of(gone)))
    assert reply.status == 202, str(reply)
    _, manifests = referrers(client, repo, subject["digest"])
    assert [item["digest"] for item in manifests] == [digest_of(kept)]


def test_referrers_are_per_repository(
    api: RegistryApi, client: HttpClient, repo: str, subject: dict[str, Any]
) -> None:
    push_artifact(api, repo, subject, artifact_type=SBOM, seed="here")
    other = unique_repo("api")
    api.push_blob(other, b"other")
    _, manifests = referrers(client, other, subject["digest"])
    assert manifests == []


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "sha256",
        "latest",
        "md5:" + "a" * 32,
    ],
)
def test_malformed_digest_is_400(
    api: RegistryApi, client: HttpClient, repo: str, digest: str
) -> None:
    api.push_blob(repo, b"repository exists")
    assert_error(client.get(f"/v2/{repo}/referrers/{digest}"), 400, "DIGEST_INVALID")


def test_paging_returns_every_referrer_once(
    api: RegistryApi, client: HttpClient, repo: str, subject: dict[str, Any]
) -> None:
    """``n`` is only a hint here (the spec lets the registry choose the page size); whatever
    the pages are, following ``Link`` yields each referrer exactly once."""
    pushed = {
        digest_of(push_artifact(api, repo, subject, artifact_type=SBOM, seed=f"page{index}"))
        for index in range(5)
    }
    _, manifests = referrers(client, repo, subject["digest"], n="2")
    assert sorted(item["digest"] for item in manifests) == sorted(pushed)
