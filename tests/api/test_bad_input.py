"""Hostile and malformed requests: path traversal, odd names, over-long names and tags,
malformed digests, bogus ``Content-Range`` and truncated bodies. Never a 5xx, never a write
outside the repository tree, never a partial blob."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.api.manifests_support import minimal_manifest
from tests.support.oci import OCI_MANIFEST, digest_of, random_bytes
from tests.support.rawhttp import HttpClient, Reply, send_truncated, with_query
from tests.support.registry import (
    OCTETS,
    RegistryApi,
    assert_error,
    unique_repo,
    upload_offset_from,
)
from tests.support.servers import RunningRegistry
from tests.support.storage import blob_data


def raw_query(target: str, key: str, value: str) -> str:
    """Append ``key=value`` without encoding ``value`` (it may hold deliberate escapes)."""
    return f"{target}{'&' if '?' in target else '?'}{key}={value}"


def paths_named(root: Path, marker: str) -> list[Path]:
    return list(root.rglob(f"*{marker}*"))


def assert_refused(reply: Reply, *codes: str) -> None:
    """400 with one of ``codes``, or a 404 when the path does not even route to an endpoint."""
    assert reply.status in {400, 404}, str(reply)
    if reply.status == 400:
        assert_error(reply, 400, *codes)
    else:
        assert_error(reply, 404)


# --- path traversal --------------------------------------------------------------------------

TRAVERSALS = [
    "/v2/../../{m}/blobs/uploads/",
    "/v2/{m}/../../../{m}/blobs/uploads/",
    "/v2/%2e%2e/%2e%2e/{m}/blobs/uploads/",
    "/v2/{m}/%2E%2E/%2E%2E/%2E%2E/{m}/blobs/uploads/",
    "/v2/{m}/.%2e/.%2e/{m}/blobs/uploads/",
    "/v2/..%2f..%2f{m}/blobs/uploads/",
    "/v2/{m}%2f..%2f..%2f..%2f{m}/blobs/uploads/",
    "/v2/{m}%2F%2E%2E%2F%2E%2E%2F{m}/blobs/uploads/",
    "/v2/{m}/..%5c..%5c{m}/blobs/uploads/",
    "/v2/{m}/./{m}/blobs/uploads/",
    "/v2/{m}%00/blobs/uploads/",
    "/v2/%2f{m}/blobs/uploads/",
    "/v2//{m}/blobs/uploads/",
]


@pytest.mark.parametrize("template", TRAVERSALS)
def test_traversal_in_name_never_writes(
    client: HttpClient, registry: RunningRegistry, template: str
) -> None:
    marker = f"trav{uuid.uuid4().hex[:10]}"
    target = template.format(m=marker)
    assert_refused(client.post(target), "NAME_INVALID")
    reply = client.put(
        target.replace("/blobs/uploads/", "/manifests/latest"),
        body=b"{}",
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert_refused(reply, "NAME_INVALID")
    assert_refused(client.get(target.replace("/blobs/uploads/", "/tags/list")), "NAME_INVALID")
    assert paths_named(registry.root.parent, marker) == []


@pytest.mark.parametrize(
    "template",
    [
        "/v2/{o}/../{v}/blobs/{d}",
        "/v2/{o}/%2e%2e/{v}/blobs/{d}",
        "/v2/{o}%2f..%2f{v}/blobs/{d}",
        "/v2/{o}/..%2f{v}/blobs/{d}",
    ],
)
def test_traversal_cannot_read_another_repository(
    api: RegistryApi, client: HttpClient, template: str
) -> None:
    victim, other = unique_repo("victim"), unique_repo("api")
    digest = api.push_blob(victim, b"secret " + victim.encode())
    api.push_blob(other, b"other")
    reply = client.get(template.format(o=other, v=victim, d=digest))
    assert_refused(reply, "NAME_INVALID")
    assert b"secret" not in reply.body


@pytest.mark.parametrize(
    "reference",
    [
        "..%2f..%2f..%2f{m}",
        "..%2F..%2F..%2F..%2F..%2F..%2F{m}",
        "%2e%2e",
        "..",
        "{m}%2fb",
        "{m}%00",
        "{m}%0d%0aX-Injected:%201",
    ],
)
def test_traversal_in_reference(
    api: RegistryApi, client: HttpClient, registry: RunningRegistry, repo: str, reference: str
) -> None:
    marker = f"trav{uuid.uuid4().hex[:10]}"
    body = minimal_manifest(api, repo)
    target = f"/v2/{repo}/manifests/{reference.format(m=marker)}"
    # With a ':' the reference can only be a (malformed) digest.
    codes = (
        ("DIGEST_INVALID", "TAG_INVALID")
        if "%3a" in target.lower() or ":" in target
        else ("TAG_INVALID",)
    )
    reply = client.put(target, body=body, headers={"Content-Type": OCI_MANIFEST})
    assert_refused(reply, *codes)
    assert reply.header("X-Injected") is None
    assert_refused(client.get(target), *codes)
    assert paths_named(registry.root.parent, marker) == []


# --- names and tags --------------------------------------------------------------------------

BAD_NAMES = [
    "Upper",
    "api/MixedCase",
    "a%20b",
    "a@b",
    "a:b",
    "a+b",
    "a..b",
    "a.-b",
    "a___b",
    "-a",
    "a-",
    "_a",
    ".a",
    "a/",
    "a//b",
    "a/-b",
    "a%09b",
    "caf%C3%A9",
    "a%7Eb",
    "a%25b",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_name(client: HttpClient, name: str) -> None:
    assert_error(client.get(f"/v2/{name}/tags/list"), 400, "NAME_INVALID")
    assert_error(client.post(f"/v2/{name}/blobs/uploads/"), 400, "NAME_INVALID")
    reply = client.get(f"/v2/{name}/manifests/latest")
    assert_error(reply, 400, "NAME_INVALID")
    assert_error(client.get(f"/v2/{name}/blobs/{digest_of(b'x')}"), 400, "NAME_INVALID")


def long_name(length: int) -> str:
    """A name of exactly ``length`` characters that matches the name grammar."""
    name = ("abcdefghi/" * (length // 10 + 1))[:length]
    return name[:-1] + "z" if name.endswith("/") else name


def test_long_name_within_limits_is_accepted(api: RegistryApi, client: HttpClient) -> None:
    name = long_name(200)
    assert_error(client.get(f"/v2/{name}/tags/list"), 404, "NAME_UNKNOWN")
    api.push_blob(name, b"long name")


@pytest.mark.parametrize("length", [256, 1000, 5000])
def test_too_long_name(client: HttpClient, length: int) -> None:
    name = long_name(length)
    assert_error(client.get(f"/v2/{name}/tags/list"), 400, "NAME_INVALID")
    assert_error(client.post(f"/v2/{name}/blobs/uploads/"), 400, "NAME_INVALID")


def test_tag_length_limit(api: RegistryApi, client: HttpClient, repo: str) -> None:
    body = minimal_manifest(api, repo)
    longest = "t" * 128
    reply = api.put_manifest(repo, longest, body, OCI_MANIFEST)
    assert reply.status == 201, str(reply)
    assert client.get(api.manifest_path(repo, longest)).status == 200
    too_long = "t" * 129
    assert_error(api.put_manifest(repo, too_long, body, OCI_MANIFEST), 400, "TAG_INVALID")
    assert_error(client.get(api.manifest_path(repo, too_long)), 400, "TAG_INVALID")
    assert_error(client.delete(api.manifest_path(repo, too_long)), 400, "TAG_INVALID")


@pytest.mark.parametrize(
    "tag", ["-lead", ".lead", "a+b", "a%20b", "caf%C3%A9", "a~b", "a@b", "a%2Fb"]
)
def test_invalid_tag(api: RegistryApi, client: HttpClient, repo: str, tag: str) -> None:
    body = minimal_manifest(api, repo)
    assert_error(api.put_manifest(repo, tag, body, OCI_MANIFEST), 400, "TAG_INVALID")
    assert_error(client.get(api.manifest_path(repo, tag)), 400, "TAG_INVALID")


# --- digests ---------------------------------------------------------------------------------

BAD_DIGESTS = [
    "sha256:" + "A" * 64,
    "sha256:" + "ABCDEF0123" * 6 + "ABCD",
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "g" * 64,
    "sha512:" + "a" * 64,
    "sha512:" + "a" * 127,
    "SHA256:" + "a" * 64,
    "md5:" + "a" * 32,
    "sha1:" + "a" * 40,
    "sha256:",
    ":" + "a" * 64,
    "sha256:" + "a" * 64 + ":" + "a" * 64,
    "sha256:%20" + "a" * 64,
    "sha256:" + "a" * 62 + "%2e%2e",
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_malformed_digest_everywhere(
    api: RegistryApi, client: HttpClient, repo: str, digest: str
) -> None:
    api.push_blob(repo, b"repository exists")
    assert_error(client.get(api.blob_path(repo, digest)), 400, "DIGEST_INVALID")
    assert_error(client.head(api.blob_path(repo, digest)), 400)
    assert_error(client.delete(api.blob_path(repo, digest)), 400, "DIGEST_INVALID")
    assert_error(client.get(api.manifest_path(repo, digest)), 400, "DIGEST_INVALID")
    assert_error(client.delete(api.manifest_path(repo, digest)), 400, "DIGEST_INVALID")
    assert_error(
        client.post(f"{api.uploads_path(repo)}?digest={digest}", body=b"x", headers=OCTETS),
        400,
        "DIGEST_INVALID",
    )
    location = api.start_upload(repo)
    assert_error(
        client.put(
            f"{client.target(location)}&digest={digest}".replace("?&", "?")
            if "?" in location
            else f"{location}?digest={digest}",
            body=b"x",
            headers=OCTETS,
        ),
        400,
        "DIGEST_INVALID",
    )
    reply = client.post(f"{api.uploads_path(repo)}?mount={digest}&from={repo}")
    assert reply.status in {400, 202}, str(reply)
    if reply.status == 400:
        assert_error(reply, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("digest", ["sha256", "noalgorithm", "latest"])
def test_blob_reference_must_be_a_digest(
    api: RegistryApi, client: HttpClient, repo: str, digest: str
) -> None:
    api.push_blob(repo, b"repository exists")
    assert_error(client.get(api.blob_path(repo, digest)), 400, "DIGEST_INVALID")


# --- Content-Range ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_range",
    [
        "abc",
        "0-",
        "-9",
        "9-0",
        "0--9",
        "0-9-",
        "0-99999999999999999999999",
        " ",
        "0-8",
        "0-10",
    ],
)
def test_bogus_content_range(
    api: RegistryApi, client: HttpClient, repo: str, content_range: str
) -> None:
    data = random_bytes(30, repo)
    location = api.start_upload(repo)
    reply = client.patch(
        location, body=data[:10], headers={**OCTETS, "Content-Range": content_range}
    )
    assert reply.status in {400, 416}, str(reply)
    assert_error(reply, reply.status, "BLOB_UPLOAD_INVALID", "SIZE_INVALID")
    status = client.get(location)
    assert status.status == 204, str(status)
    assert status.header("Range") == "0-0", str(status)
    reply = client.patch(location, body=data, headers={**OCTETS, "Content-Range": "0-29"})
    assert reply.status == 202, str(reply)
    location = reply.header("Location") or ""
    reply = client.put(with_query(location, digest=digest_of(data)))
    assert reply.status == 201, str(reply)
    assert client.get(api.blob_path(repo, digest_of(data))).body == data


# --- truncated bodies ------------------------------------------------------------------------


def settled_offset(client: HttpClient, location: str) -> tuple[str, int]:
    """Upload status once the server has finished with the aborted request."""
    previous: int | None = None
    for _ in range(50):
        reply = client.get(location)
        assert reply.status == 204, str(reply)
        offset = upload_offset_from(reply)
        if offset == previous:
            return reply.header("Location") or location, offset
        previous = offset
        time.sleep(0.1)
    raise AssertionError("upload offset never settled")


def finish_upload(client: HttpClient, location: str, data: bytes) -> Reply:
    """Resume like a client does: ask for the offset, send the rest, retry after a 416."""
    for _ in range(5):
        location, offset = settled_offset(client, location)
        assert offset <= len(data)
        reply = client.put(
            with_query(location, digest=digest_of(data)),
            body=data[offset:],
            headers={**OCTETS, "Content-Range": f"{offset}-{len(data) - 1}"},
        )
        if reply.status != 416:
            return reply
    raise AssertionError(f"upload could not be resumed:\n{reply}")


def assert_nothing_stored(client: HttpClient, root: Path, repo: str, digest: str) -> None:
    assert_error(client.head(f"/v2/{repo}/blobs/{digest}"), 404)
    assert not blob_data(root, digest).exists()


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_truncated_upload_body_is_resumable(
    api: RegistryApi, client: HttpClient, registry: RunningRegistry, repo: str, method: str
) -> None:
    data = random_bytes(2 * 1024 * 1024, repo)
    digest = digest_of(data)
    location = api.start_upload(repo)
    target = client.target(location)
    if method == "PUT":
        target = with_query(target, digest=digest)
    send_truncated(
        registry.url,
        method,
        target,
        declared_length=len(data),
        data=data[: 700 * 1024],
        headers=OCTETS,
    )
    location, _ = settled_offset(client, location)
    assert_nothing_stored(client, registry.root, repo, digest)
    reply = finish_upload(client, location, data)
    assert reply.status == 201, str(reply)
    assert client.get(api.blob_path(repo, digest)).body == data


def test_truncated_single_post_stores_nothing(
    api: RegistryApi, client: HttpClient, registry: RunningRegistry, repo: str
) -> None:
    api.push_blob(repo, b"repository exists")
    data = random_bytes(1024 * 1024, repo)
    digest = digest_of(data)
    send_truncated(
        registry.url,
        "POST",
        with_query(api.uploads_path(repo), digest=digest),
        declared_length=len(data),
        data=data[:300_000],
        headers=OCTETS,
    )
    client.get("/v2/")
    assert_nothing_stored(client, registry.root, repo, digest)


def test_truncated_manifest_stores_nothing(
    api: RegistryApi, client: HttpClient, registry: RunningRegistry, repo: str
) -> None:
    body = minimal_manifest(api, repo)
    send_truncated(
        registry.url,
        "PUT",
        api.manifest_path(repo, "cut"),
        declared_length=len(body),
        data=body[: len(body) // 2],
        headers={"Content-Type": OCI_MANIFEST},
    )
    time.sleep(0.2)
    assert_error(client.get(api.manifest_path(repo, "cut")), 404, "MANIFEST_UNKNOWN")
    assert_error(client.get(api.manifest_path(repo, digest_of(body))), 404, "MANIFEST_UNKNOWN")
