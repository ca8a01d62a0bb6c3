"""Blob uploads (end-4a/4b, end-5, end-6, end-11, end-13, end-14): sessions, monolithic and
chunked pushes, status, cancel and cross-repository mounts."""

from __future__ import annotations

import http.client
import uuid
from urllib.parse import urljoin, urlsplit

import pytest

from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import HttpClient, Reply, chunks_of, with_query
from tests.support.registry import (
    OCTETS,
    ClientFactory,
    RegistryApi,
    assert_error,
    unique_repo,
    upload_offset_from,
)

ALGORITHMS = ["sha256", "sha512"]


def assert_session(reply: Reply, status: int, expected_range: str) -> str:
    """An upload-session response (POST, PATCH, GET status); returns its ``Location``."""
    assert reply.status == status, str(reply)
    location = reply.header("Location")
    assert location, str(reply)
    upload_id = reply.header("Docker-Upload-UUID")
    assert upload_id, str(reply)
    assert upload_id in location, f"Location does not name the session:\n{reply}"
    assert reply.header("Range") == expected_range, str(reply)
    return location


def assert_blob_created(reply: Reply, client: HttpClient, repo: str, digest: str) -> None:
    assert reply.status == 201, str(reply)
    assert reply.header("Docker-Content-Digest") == digest, str(reply)
    location = reply.header("Location")
    assert location is not None, str(reply)
    assert client.target(location) == f"/v2/{repo}/blobs/{digest}", str(reply)


def assert_blob_content(client: HttpClient, repo: str, digest: str, data: bytes) -> None:
    reply = client.get(f"/v2/{repo}/blobs/{digest}")
    assert reply.status == 200, str(reply)
    assert reply.body == data
    assert reply.header("Docker-Content-Digest") == digest


def chunk_headers(start: int, length: int) -> dict[str, str]:
    return {**OCTETS, "Content-Range": f"{start}-{start + length - 1}"}


def test_post_opens_a_session(api: RegistryApi, client: HttpClient, repo: str) -> None:
    reply = client.post(api.uploads_path(repo))
    location = assert_session(reply, 202, "0-0")
    assert reply.header("Content-Length") == "0", str(reply)
    min_length = reply.header("OCI-Chunk-Min-Length")
    assert min_length is not None, str(reply)
    assert min_length.isdigit(), str(reply)

    status = client.get(location)
    assert_session(status, 204, "0-0")
    assert status.body == b""


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_monolithic_single_post(
    api: RegistryApi, client: HttpClient, repo: str, algorithm: str
) -> None:
    data = random_bytes(100_000, f"{repo}-{algorithm}")
    digest = digest_of(data, algorithm)
    reply = client.post(
        with_query(api.uploads_path(repo), digest=digest), body=data, headers=OCTETS
    )
    assert_blob_created(reply, client, repo, digest)
    assert_blob_content(client, repo, digest, data)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_monolithic_post_then_put(
    api: RegistryApi, client: HttpClient, repo: str, algorithm: str
) -> None:
    data = random_bytes(100_000, f"{repo}-{algorithm}")
    digest = digest_of(data, algorithm)
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    reply = client.put(with_query(location, digest=digest), body=data, headers=OCTETS)
    assert_blob_created(reply, client, repo, digest)
    assert_blob_content(client, repo, digest, data)
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_chunked_upload_with_content_range(
    api: RegistryApi, client: HttpClient, repo: str, algorithm: str
) -> None:
    data = random_bytes(300_000, f"{repo}-{algorithm}")
    digest = digest_of(data, algorithm)
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    offset = 0
    for chunk in chunks_of(data, 128 * 1024):
        reply = client.patch(location, body=chunk, headers=chunk_headers(offset, len(chunk)))
        offset += len(chunk)
        location = assert_session(reply, 202, f"0-{offset - 1}")
        assert_session(client.get(location), 204, f"0-{offset - 1}")
    reply = client.put(with_query(location, digest=digest))
    assert_blob_created(reply, client, repo, digest)
    assert_blob_content(client, repo, digest, data)


def test_streamed_patch_then_put_with_last_chunk(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    data = random_bytes(1_000_000, repo)
    digest = digest_of(data)
    head, tail = data[:700_000], data[700_000:]
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    # A streamed PATCH: no Content-Range, chunked transfer encoding (what docker sends).
    reply = client.patch(location, body=chunks_of(head, 64 * 1024), headers=OCTETS)
    location = assert_session(reply, 202, f"0-{len(head) - 1}")
    reply = client.put(
        with_query(location, digest=digest), body=tail, headers=chunk_headers(len(head), len(tail))
    )
    assert_blob_created(reply, client, repo, digest)
    assert_blob_content(client, repo, digest, data)


def test_put_closing_chunk_without_content_range(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    data = random_bytes(50_000, repo)
    digest = digest_of(data)
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    reply = client.patch(location, body=data[:20_000], headers=chunk_headers(0, 20_000))
    location = assert_session(reply, 202, "0-19999")
    reply = client.put(with_query(location, digest=digest), body=data[20_000:], headers=OCTETS)
    assert_blob_created(reply, client, repo, digest)
    assert_blob_content(client, repo, digest, data)


def test_out_of_order_chunk_is_416(api: RegistryApi, client: HttpClient, repo: str) -> None:
    data = random_bytes(300, repo)
    digest = digest_of(data)
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    location = assert_session(
        client.patch(location, body=data[:100], headers=chunk_headers(0, 100)), 202, "0-99"
    )
    # A gap, a repeat of the first chunk, an overlap: all out of order.
    for start in (200, 0, 50):
        chunk = data[start : start + 100]
        reply = client.patch(location, body=chunk, headers=chunk_headers(start, 100))
        assert_error(reply, 416, "BLOB_UPLOAD_INVALID")
        assert_session(client.get(location), 204, "0-99")
    location = assert_session(
        client.patch(location, body=data[100:], headers=chunk_headers(100, 200)), 202, "0-299"
    )
    assert_blob_created(client.put(with_query(location, digest=digest)), client, repo, digest)
    assert_blob_content(client, repo, digest, data)


def test_first_chunk_must_start_at_zero(api: RegistryApi, client: HttpClient, repo: str) -> None:
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    reply = client.patch(location, body=b"x" * 10, headers=chunk_headers(1, 10))
    assert_error(reply, 416, "BLOB_UPLOAD_INVALID")
    assert_session(client.get(location), 204, "0-0")


def test_cancel_upload(api: RegistryApi, client: HttpClient, repo: str) -> None:
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    location = assert_session(
        client.patch(location, body=b"abc", headers=chunk_headers(0, 3)), 202, "0-2"
    )
    reply = client.delete(location)
    assert reply.status == 204, str(reply)
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(
        client.patch(location, body=b"def", headers=chunk_headers(3, 3)), 404, "BLOB_UPLOAD_UNKNOWN"
    )
    reply = client.put(with_query(location, digest=digest_of(b"abc")))
    assert_error(reply, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.delete(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.head(f"/v2/{repo}/blobs/{digest_of(b'abc')}"), 404)


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_session(
    api: RegistryApi, client: HttpClient, repo: str, method: str
) -> None:
    api.push_blob(repo, b"make the repository exist")
    target = f"{api.uploads_path(repo)}{uuid.uuid4()}"
    if method == "PUT":
        target = with_query(target, digest=digest_of(b""))
    body = b"data" if method == "PATCH" else None
    reply = client.request(method, target, body=body)
    assert_error(reply, 404, "BLOB_UPLOAD_UNKNOWN")


def test_session_belongs_to_its_repository(api: RegistryApi, client: HttpClient, repo: str) -> None:
    other = unique_repo("api")
    api.push_blob(other, b"other repository")
    location = client.target(assert_session(client.post(api.uploads_path(repo)), 202, "0-0"))
    foreign = location.replace(f"/v2/{repo}/", f"/v2/{other}/", 1)
    assert foreign != location
    reply = client.patch(foreign, body=b"abc", headers=chunk_headers(0, 3))
    assert reply.status in {400, 404}, str(reply)
    assert_error(reply, reply.status, "BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID")
    assert_session(client.get(location), 204, "0-0")


def test_put_without_digest(api: RegistryApi, client: HttpClient, repo: str) -> None:
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    assert_error(client.put(location, body=b"abc", headers=OCTETS), 400, "DIGEST_INVALID")


def test_upload_same_blob_twice(api: RegistryApi, client: HttpClient, repo: str) -> None:
    data = random_bytes(10_000, repo)
    digest = digest_of(data)
    for _ in range(2):
        url = with_query(api.uploads_path(repo), digest=digest)
        assert_blob_created(client.post(url, body=data, headers=OCTETS), client, repo, digest)
    assert_blob_content(client, repo, digest, data)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_cross_repository_mount(
    api: RegistryApi, client: HttpClient, repo: str, algorithm: str
) -> None:
    source = unique_repo("api")
    data = random_bytes(20_000, f"{repo}-{algorithm}")
    digest = api.push_blob(source, data, algorithm)
    reply = client.post(with_query(api.uploads_path(repo), mount=digest, **{"from": source}))
    assert_blob_created(reply, client, repo, digest)
    assert_blob_content(client, repo, digest, data)


def test_mount_of_unknown_blob_falls_back_to_a_session(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    source = unique_repo("api")
    api.push_blob(source, b"source exists")
    data = b"never pushed anywhere " + repo.encode()
    digest = digest_of(data)
    reply = client.post(with_query(api.uploads_path(repo), mount=digest, **{"from": source}))
    location = assert_session(reply, 202, "0-0")
    reply = client.put(with_query(location, digest=digest), body=data, headers=OCTETS)
    assert_blob_created(reply, client, repo, digest)


def test_mount_from_unknown_repository_falls_back_to_a_session(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    elsewhere = unique_repo("api")
    digest = api.push_blob(elsewhere, b"linked in another repository only")
    missing_source = unique_repo("api")
    reply = client.post(
        with_query(api.uploads_path(repo), mount=digest, **{"from": missing_source})
    )
    assert_session(reply, 202, "0-0")
    assert_error(client.head(api.blob_path(repo, digest)), 404)


def test_upload_to_new_nested_repository(api: RegistryApi, client: HttpClient) -> None:
    repo = unique_repo("api") + "/deeply/nested.name/with_under__scores/and---dashes"
    digest = api.push_blob(repo, b"nested")
    assert_blob_content(client, repo, digest, b"nested")


def test_resume_after_status_check(
    api: RegistryApi, client: HttpClient, new_client: ClientFactory, repo: str
) -> None:
    data = random_bytes(200_000, repo)
    digest = digest_of(data)
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    first = client.patch(location, body=data[:123_456], headers=chunk_headers(0, 123_456))
    location = assert_session(first, 202, "0-123455")
    other = new_client()  # a second connection, as a client resuming later would open
    status = other.get(location)
    location = assert_session(status, 204, "0-123455")
    offset = upload_offset_from(status)
    reply = other.patch(
        location, body=data[offset:], headers=chunk_headers(offset, len(data) - offset)
    )
    location = assert_session(reply, 202, f"0-{len(data) - 1}")
    assert_blob_created(other.put(with_query(location, digest=digest)), other, repo, digest)
    assert_blob_content(client, repo, digest, data)


def test_absolute_form_targets_are_accepted(
    api: RegistryApi, client: HttpClient, repo: str
) -> None:
    """RFC 9112 section 3.2.2: a server must accept a request target in absolute form, e.g. a
    client that sends the absolute ``Location`` back verbatim as its request line."""
    data = random_bytes(70_000, repo)
    digest = digest_of(data)
    location = assert_session(client.post(api.uploads_path(repo)), 202, "0-0")
    absolute = urljoin(client.base_url + "/", location)
    host = urlsplit(client.base_url)
    connection = http.client.HTTPConnection(host.hostname or "", host.port)
    try:
        connection.request("PATCH", absolute, body=data, headers=chunk_headers(0, len(data)))
        reply = connection.getresponse()
        assert reply.status == 202, reply.read()
        reply.read()
        location = urljoin(client.base_url + "/", reply.headers["Location"])
        connection.request("PUT", with_query(location, digest=digest))
        reply = connection.getresponse()
        assert reply.status == 201, reply.read()
        reply.read()
        connection.request("GET", f"{client.base_url}/v2/{repo}/blobs/{digest}")
        reply = connection.getresponse()
        assert (reply.status, reply.read()) == (200, data)
    finally:
        connection.close()
