"""Manifest PUT/GET/HEAD/DELETE (end-3, end-7, end-9): exact bytes, validation, references,
media-type negotiation, deletion semantics and multi-tag pushes."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.manifests_support import ALL_MANIFEST_TYPES, push_manifest_of_type, push_parts
from tests.support.oci import (
    DOCKER_CONFIG,
    DOCKER_FOREIGN_LAYER,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    OCI_NONDISTRIBUTABLE_LAYER,
    descriptor,
    digest_of,
    image_manifest,
    index_manifest,
    platform,
)
from tests.support.rawhttp import HttpClient, Reply
from tests.support.registry import RegistryApi, assert_error, unique_repo

MAX_MANIFEST = 4 * 1024 * 1024


def assert_manifest(reply: Reply, body: bytes, media_type: str, digest: str) -> None:
    assert reply.status == 200, str(reply)
    assert reply.header("Content-Type") == media_type, str(reply)
    assert reply.header("Docker-Content-Digest") == digest, str(reply)
    if reply.method == "HEAD":
        assert reply.body == b""
        assert reply.header("Content-Length") == str(len(body)), str(reply)
    else:
        assert reply.body == body, "manifest bytes changed"


def assert_manifest_created(reply: Reply, client: HttpClient, repo: str, digest: str) -> None:
    """201 with the digest, and a ``Location`` that pulls the manifest (by digest or by the
    reference it was pushed to)."""
    assert reply.status == 201, str(reply)
    assert reply.header("Docker-Content-Digest") == digest, str(reply)
    location = reply.header("Location")
    assert location is not None, str(reply)
    pushed_to = reply.target.split("?")[0].rsplit("/", 1)[-1]
    assert client.target(location) in {
        f"/v2/{repo}/manifests/{digest}",
        f"/v2/{repo}/manifests/{pushed_to}",
    }, str(reply)


def odd_manifest(config: dict[str, object], layers: list[dict[str, object]]) -> bytes:
    """Valid JSON no encoder would produce: odd whitespace, key order, escapes, raw UTF-8."""
    layer_text = " ,\n\t\t".join(
        json.dumps(layer, indent=None, separators=(" , ", " :")) for layer in layers
    )
    config_text = json.dumps(config)
    return (
        f'{{\n\t"layers":  [ {layer_text} ],\r\n  "config" :{config_text} ,'
        '"annotations": {"note":"caf\\u00e9 \u00fc\\/"},'
        f'   "mediaType":"{OCI_MANIFEST}",    "schemaVersion" : 2 }}\n\n'
    ).encode()


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_put_by_tag_keeps_exact_bytes(
    api: RegistryApi, client: HttpClient, repo: str, algorithm: str
) -> None:
    config, layers = push_parts(api, repo, algorithm=algorithm)
    body = odd_manifest(config, layers)
    digest = digest_of(body)
    reply = api.put_manifest(repo, "v1", body, OCI_MANIFEST)
    assert_manifest_created(reply, client, repo, digest)
    for reference in ("v1", digest):
        path = api.manifest_path(repo, reference)
        assert_manifest(
            client.get(path, headers={"Accept": OCI_MANIFEST}), body, OCI_MANIFEST, digest
        )
        assert_manifest(
            client.head(path, headers={"Accept": OCI_MANIFEST}), body, OCI_MANIFEST, digest
        )


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_put_by_digest(api: RegistryApi, client: HttpClient, repo: str, algorithm: str) -> None:
    config, layers = push_parts(api, repo, algorithm=algorithm)
    body = odd_manifest(config, layers)
    digest = digest_of(body, algorithm)
    reply = api.put_manifest(repo, digest, body, OCI_MANIFEST)
    assert_manifest_created(reply, client, repo, digest)
    path = api.manifest_path(repo, digest)
    assert_manifest(client.get(path, headers={"Accept": OCI_MANIFEST}), body, OCI_MANIFEST, digest)
    assert_manifest(client.head(path, headers={"Accept": OCI_MANIFEST}), body, OCI_MANIFEST, digest)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_put_by_digest_that_does_not_match(
    api: RegistryApi, client: HttpClient, repo: str, algorithm: str
) -> None:
    config, layers = push_parts(api, repo)
    body = image_manifest(config, layers)
    wrong = digest_of(body + b" ", algorithm)
    assert_error(api.put_manifest(repo, wrong, body, OCI_MANIFEST), 400, "DIGEST_INVALID")
    assert_error(client.get(api.manifest_path(repo, wrong)), 404, "MANIFEST_UNKNOWN")
    assert_error(
        client.get(api.manifest_path(repo, digest_of(body, algorithm))), 404, "MANIFEST_UNKNOWN"
    )


def test_tag_moves_to_the_latest_push(api: RegistryApi, client: HttpClient, repo: str) -> None:
    first = push_manifest_of_type(api, repo, OCI_MANIFEST, seed="first")
    second = push_manifest_of_type(api, repo, OCI_MANIFEST, seed="second")
    api.push_manifest(repo, "latest", first, OCI_MANIFEST)
    api.push_manifest(repo, "latest", second, OCI_MANIFEST)
    latest = client.get(api.manifest_path(repo, "latest"), headers={"Accept": OCI_MANIFEST})
    assert_manifest(latest, second, OCI_MANIFEST, digest_of(second))
    by_digest = client.get(
        api.manifest_path(repo, digest_of(first)), headers={"Accept": OCI_MANIFEST}
    )
    assert_manifest(by_digest, first, OCI_MANIFEST, digest_of(first))


def test_content_type_parameters_are_ignored(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    body = push_manifest_of_type(api, repo, OCI_MANIFEST)
    reply = api.put_manifest(repo, "params", body, f"{OCI_MANIFEST}; charset=utf-8")
    assert reply.status == 201, str(reply)
    got = client.get(api.manifest_path(repo, "params"), headers={"Accept": OCI_MANIFEST})
    assert_manifest(got, body, OCI_MANIFEST, digest_of(body))


def test_manifest_without_media_type_field(api: RegistryApi, client: HttpClient, repo: str) -> None:
    config, layers = push_parts(api, repo)
    body = json.dumps({"schemaVersion": 2, "config": config, "layers": layers}).encode()
    api.push_manifest(repo, "plain", body, OCI_MANIFEST)
    got = client.get(api.manifest_path(repo, "plain"), headers={"Accept": OCI_MANIFEST})
    assert_manifest(got, body, OCI_MANIFEST, digest_of(body))


# --- media-type negotiation -------------------------------------------------------------------


def _accept_variants(media_type: str) -> list[list[tuple[str, str]]]:
    others = [other for other in ALL_MANIFEST_TYPES if other != media_type]
    return [
        [("Accept", media_type)],
        [("Accept", ", ".join([*others, media_type]))],
        [("Accept", f"{others[0]};q=0.9, {media_type};q=0.5")],
        [("Accept", value) for value in [*others, media_type]],  # one header per type (docker)
        [("Accept", "*/*")],
        [],
    ]


@pytest.mark.parametrize("media_type", ALL_MANIFEST_TYPES)
def test_accept_negotiation(
    api: RegistryApi, client: HttpClient, repo: str, media_type: str
) -> None:
    body = push_manifest_of_type(api, repo, media_type)
    digest = digest_of(body)
    api.push_manifest(repo, "negotiated", body, media_type)
    for headers in _accept_variants(media_type):
        for reference in ("negotiated", digest):
            path = api.manifest_path(repo, reference)
            assert_manifest(client.get(path, headers=headers), body, media_type, digest)
            assert_manifest(client.head(path, headers=headers), body, media_type, digest)


@pytest.mark.parametrize(
    ("stored", "accepted"),
    [
        (OCI_MANIFEST, DOCKER_MANIFEST),
        (DOCKER_MANIFEST, OCI_MANIFEST),
        (OCI_INDEX, OCI_MANIFEST),
        (DOCKER_LIST, DOCKER_MANIFEST),
        (DOCKER_MANIFEST, DOCKER_SCHEMA1_SIGNED),
    ],
)
def test_unacceptable_type_is_never_converted(
    api: RegistryApi, client: HttpClient, repo: str, stored: str, accepted: str
) -> None:
    """A registry stores exact bytes: it may refuse (404/406) but must never rewrite."""
    body = push_manifest_of_type(api, repo, stored)
    api.push_manifest(repo, "only", body, stored)
    reply = client.get(api.manifest_path(repo, "only"), headers={"Accept": accepted})
    assert reply.status in {200, 404, 406}, str(reply)
    if reply.status == 200:
        assert_manifest(reply, body, stored, digest_of(body))
    elif reply.status == 404:
        assert_error(reply, 404, "MANIFEST_UNKNOWN")
    else:
        assert_error(reply, 406)


# --- validation ------------------------------------------------------------------------------


def schema1_manifest(repo: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 1,
            "name": repo,
            "tag": "old",
            "architecture": "amd64",
            "fsLayers": [{"blobSum": digest_of(b"layer")}],
            "history": [{"v1Compatibility": "{}"}],
            "signatures": [
                {"header": {"alg": "ES256"}, "signature": "c2ln", "protected": "cHJvdGVjdGVk"}
            ],
        },
        indent=3,
    ).encode()


@pytest.mark.parametrize("media_type", [DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1])
def test_schema1_is_refused_clearly(
    api: RegistryApi, client: HttpClient, repo: str, media_type: str
) -> None:
    reply = api.put_manifest(repo, "old", schema1_manifest(repo), media_type)
    assert_error(reply, 400, "MANIFEST_INVALID")
    error = reply.json()["errors"][0]
    explanation = f"{error.get('message')} {json.dumps(error.get('detail'))}"
    assert re.search(r"schema[ _-]?(version[ :=]*)?1|v1", explanation, re.IGNORECASE), str(reply)
    assert_error(
        client.get(api.manifest_path(repo, "old")), 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN"
    )


def padded_manifest(api: RegistryApi, repo: str, size: int) -> bytes:
    config, layers = push_parts(api, repo, layers=1)
    base = image_manifest(config, layers, annotations={"pad": ""})
    body = image_manifest(config, layers, annotations={"pad": "x" * (size - len(base))})
    assert len(body) == size
    return body


def test_manifest_of_4_mib_is_accepted(api: RegistryApi, client: HttpClient, repo: str) -> None:
    body = padded_manifest(api, repo, MAX_MANIFEST)
    reply = api.put_manifest(repo, "big", body, OCI_MANIFEST)
    assert_manifest_created(reply, client, repo, digest_of(body))
    got = client.get(api.manifest_path(repo, "big"), headers={"Accept": OCI_MANIFEST})
    assert_manifest(got, body, OCI_MANIFEST, digest_of(body))


def test_manifest_over_4_mib_is_413(api: RegistryApi, client: HttpClient, repo: str) -> None:
    body = padded_manifest(api, repo, MAX_MANIFEST + 1)
    reply = api.put_manifest(repo, "huge", body, OCI_MANIFEST)
    assert_error(reply, 413, "SIZE_INVALID", "MANIFEST_INVALID")
    assert_error(client.get(api.manifest_path(repo, "huge")), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"[]",
        b"null",
        b"42",
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"',
        b'\xff\xfe{"schemaVersion": 2}',
        b'{"schemaVersion": NaN}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
    ids=lambda body: repr(body[:24]),
)
def test_invalid_json_is_manifest_invalid(
    api: RegistryApi, client: HttpClient, repo: str, body: bytes
) -> None:
    assert_error(api.put_manifest(repo, "bad", body, OCI_MANIFEST), 400, "MANIFEST_INVALID")
    assert_error(
        client.get(api.manifest_path(repo, "bad")), 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN"
    )


@pytest.mark.parametrize(
    "case",
    [
        "no-config",
        "config-not-object",
        "layers-not-list",
        "schema-version-3",
        "schema-version-string",
        "content-type-mismatch",
        "descriptor-without-digest",
        "descriptor-size-string",
        "index-manifests-not-list",
    ],
)
def test_structurally_invalid_manifest(api: RegistryApi, repo: str, case: str) -> None:
    config, layers = push_parts(api, repo)
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": layers,
    }
    media_type = OCI_MANIFEST
    if case == "no-config":
        del document["config"]
    elif case == "config-not-object":
        document["config"] = "config"
    elif case == "layers-not-list":
        document["layers"] = {"0": layers[0]}
    elif case == "schema-version-3":
        document["schemaVersion"] = 3
    elif case == "schema-version-string":
        document["schemaVersion"] = "2"
    elif case == "content-type-mismatch":
        media_type = DOCKER_MANIFEST
    elif case == "descriptor-without-digest":
        document["layers"] = [{k: v for k, v in layers[0].items() if k != "digest"}]
    elif case == "descriptor-size-string":
        document["config"] = {**config, "size": str(config["size"])}
    elif case == "index-manifests-not-list":
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": "none"}
        media_type = OCI_INDEX
    body = json.dumps(document).encode()
    assert_error(api.put_manifest(repo, "bad", body, media_type), 400, "MANIFEST_INVALID")


def test_descriptor_with_malformed_digest(api: RegistryApi, repo: str) -> None:
    config, layers = push_parts(api, repo)
    layers[0]["digest"] = "sha256:" + "Z" * 64
    body = image_manifest(config, layers)
    reply = api.put_manifest(repo, "bad", body, OCI_MANIFEST)
    assert_error(reply, 400, "MANIFEST_INVALID", "DIGEST_INVALID")


# --- references ------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["layer", "config", "other-repository"])
def test_missing_blob_is_manifest_blob_unknown(
    api: RegistryApi, client: HttpClient, repo: str, missing: str
) -> None:
    config, layers = push_parts(api, repo)
    absent = descriptor(DOCKER_LAYER, b"never uploaded " + repo.encode())
    if missing == "layer":
        layers.append(absent)
    elif missing == "config":
        config = {**absent, "mediaType": DOCKER_CONFIG}
    else:
        other = unique_repo("api")
        elsewhere = b"only in another repository " + repo.encode()
        api.push_blob(other, elsewhere)
        layers.append(descriptor(DOCKER_LAYER, elsewhere))
    body = image_manifest(config, layers, media_type=DOCKER_MANIFEST)
    reply = api.put_manifest(repo, "incomplete", body, DOCKER_MANIFEST)
    assert_error(reply, 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(client.get(api.manifest_path(repo, "incomplete")), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize(
    ("index_type", "child_type"), [(OCI_INDEX, OCI_MANIFEST), (DOCKER_LIST, DOCKER_MANIFEST)]
)
def test_missing_child_manifest_is_manifest_blob_unknown(
    api: RegistryApi, client: HttpClient, repo: str, index_type: str, child_type: str
) -> None:
    present = push_manifest_of_type(api, repo, child_type, seed="present")
    api.push_manifest(repo, digest_of(present), present, child_type)
    absent = push_manifest_of_type(api, repo, child_type, seed="absent")  # blobs only
    index = index_manifest(
        [
            descriptor(child_type, present, platform=platform("amd64")),
            descriptor(child_type, absent, platform=platform("arm64")),
        ],
        media_type=index_type,
    )
    assert_error(api.put_manifest(repo, "multi", index, index_type), 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(client.get(api.manifest_path(repo, "multi")), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize(
    ("manifest_type", "config_type", "layer_type", "foreign_type"),
    [
        (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_NONDISTRIBUTABLE_LAYER),
        (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_FOREIGN_LAYER),
    ],
)
def test_foreign_layers_may_be_missing(
    api: RegistryApi,
    client: HttpClient,
    repo: str,
    manifest_type: str,
    config_type: str,
    layer_type: str,
    foreign_type: str,
) -> None:
    config, layers = push_parts(api, repo, config_type=config_type, layer_type=layer_type)
    foreign = descriptor(
        foreign_type,
        b"windows base layer " + repo.encode(),
        urls=["https://foreign.example.invalid/layer.tar.gz"],
    )
    body = image_manifest(config, [foreign, *layers], media_type=manifest_type)
    reply = api.put_manifest(repo, "foreign", body, manifest_type)
    assert_manifest_created(reply, client, repo, digest_of(body))


def test_subject_is_acknowledged_with_oci_subject(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    config, layers = push_parts(api, repo)
    subject = descriptor(OCI_MANIFEST, b"a subject that was never pushed " + repo.encode())
    body = image_manifest(config, layers, subject=subject, artifact_type="application/vnd.example")
    reply = api.put_manifest(repo, digest_of(body), body, OCI_MANIFEST)
    assert_manifest_created(reply, client, repo, digest_of(body))
    assert reply.header("OCI-Subject") == subject["digest"], str(reply)

    plain = push_manifest_of_type(api, repo, OCI_MANIFEST, seed="plain")
    reply = api.put_manifest(repo, "plain", plain, OCI_MANIFEST)
    assert reply.status == 201, str(reply)
    assert reply.header("OCI-Subject") is None, str(reply)


# --- unknown, deletion, tags -----------------------------------------------------------------


def test_unknown_manifest(api: RegistryApi, client: HttpClient, repo: str) -> None:
    body = push_manifest_of_type(api, repo, OCI_MANIFEST)
    api.push_manifest(repo, "exists", body, OCI_MANIFEST)
    for reference in ("missing", digest_of(b"missing"), digest_of(b"missing", "sha512")):
        assert_error(client.get(api.manifest_path(repo, reference)), 404, "MANIFEST_UNKNOWN")
        assert_error(client.head(api.manifest_path(repo, reference)), 404)
    other = unique_repo("api")
    api.push_blob(other, b"x")
    reply = client.get(api.manifest_path(other, digest_of(body)))
    assert_error(reply, 404, "MANIFEST_UNKNOWN")
    never = unique_repo("api")
    assert_error(
        client.get(api.manifest_path(never, "latest")), 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN"
    )


def _tags(client: HttpClient, repo: str) -> list[str]:
    reply = client.get(f"/v2/{repo}/tags/list")
    assert reply.status == 200, str(reply)
    tags: list[str] = reply.json()["tags"] or []
    return tags


def test_delete_by_digest_removes_manifest_and_its_tags(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    doomed = push_manifest_of_type(api, repo, OCI_MANIFEST, seed="doomed")
    kept = push_manifest_of_type(api, repo, OCI_MANIFEST, seed="kept")
    for tag in ("t1", "t2"):
        api.push_manifest(repo, tag, doomed, OCI_MANIFEST)
    api.push_manifest(repo, "keep", kept, OCI_MANIFEST)

    reply = client.delete(api.manifest_path(repo, digest_of(doomed)))
    assert reply.status == 202, str(reply)
    for reference in ("t1", "t2", digest_of(doomed)):
        assert_error(client.get(api.manifest_path(repo, reference)), 404, "MANIFEST_UNKNOWN")
    assert _tags(client, repo) == ["keep"]
    got = client.get(api.manifest_path(repo, "keep"), headers={"Accept": OCI_MANIFEST})
    assert_manifest(got, kept, OCI_MANIFEST, digest_of(kept))
    assert_error(client.delete(api.manifest_path(repo, digest_of(doomed))), 404, "MANIFEST_UNKNOWN")


def test_delete_by_tag_removes_only_the_tag(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    body = push_manifest_of_type(api, repo, OCI_MANIFEST)
    for tag in ("t1", "t2"):
        api.push_manifest(repo, tag, body, OCI_MANIFEST)
    reply = client.delete(api.manifest_path(repo, "t1"))
    assert reply.status == 202, str(reply)
    assert_error(client.get(api.manifest_path(repo, "t1")), 404, "MANIFEST_UNKNOWN")
    for reference in ("t2", digest_of(body)):
        got = client.get(api.manifest_path(repo, reference), headers={"Accept": OCI_MANIFEST})
        assert_manifest(got, body, OCI_MANIFEST, digest_of(body))
    assert _tags(client, repo) == ["t2"]
    assert_error(client.delete(api.manifest_path(repo, "t1")), 404, "MANIFEST_UNKNOWN")


def test_put_by_digest_with_several_tags(api: RegistryApi, client: HttpClient, repo: str) -> None:
    body = push_manifest_of_type(api, repo, OCI_MANIFEST)
    digest = digest_of(body)
    reply = client.put(
        f"{api.manifest_path(repo, digest)}?tag=alpha&tag=beta&tag=v1.2.3",
        body=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert_manifest_created(reply, client, repo, digest)
    assert sorted(reply.header_all("OCI-Tag")) == ["alpha", "beta", "v1.2.3"], str(reply)
    for tag in ("alpha", "beta", "v1.2.3"):
        got = client.get(api.manifest_path(repo, tag), headers={"Accept": OCI_MANIFEST})
        assert_manifest(got, body, OCI_MANIFEST, digest)
    assert _tags(client, repo) == ["alpha", "beta", "v1.2.3"]


def test_put_with_an_invalid_tag_parameter_stores_nothing(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    body = push_manifest_of_type(api, repo, OCI_MANIFEST)
    digest = digest_of(body)
    reply = client.put(
        f"{api.manifest_path(repo, digest)}?tag=good&tag=-bad",
        body=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert_error(reply, 400, "TAG_INVALID")
    assert_error(client.get(api.manifest_path(repo, "good")), 404, "MANIFEST_UNKNOWN")
