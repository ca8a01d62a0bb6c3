"""Blob GET/HEAD/DELETE (end-2, end-10) including single ``Range`` requests (RFC 9110 §14)."""

from __future__ import annotations

import pytest

from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import HttpClient
from tests.support.registry import RegistryApi, assert_error, unique_repo

ALGORITHMS = ["sha256", "sha512"]
SIZE = 1000


@pytest.fixture
def blob(api: RegistryApi, repo: str) -> tuple[str, bytes]:
    data = random_bytes(SIZE, repo)
    return api.push_blob(repo, data), data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_get_blob(api: RegistryApi, client: HttpClient, repo: str, algorithm: str) -> None:
    data = random_bytes(3 * 1024 * 1024 + 7, algorithm)
    digest = api.push_blob(repo, data, algorithm)
    reply = client.get(api.blob_path(repo, digest))
    assert reply.status == 200, str(reply)
    assert reply.body == data
    assert reply.header("Docker-Content-Digest") == digest
    assert reply.header("Content-Length") == str(len(data))
    assert reply.header("ETag") == f'"{digest}"'


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_head_blob(api: RegistryApi, client: HttpClient, repo: str, algorithm: str) -> None:
    data = random_bytes(4321, algorithm)
    digest = api.push_blob(repo, data, algorithm)
    reply = client.head(api.blob_path(repo, digest))
    assert reply.status == 200, str(reply)
    assert reply.body == b""
    assert reply.header("Docker-Content-Digest") == digest
    assert reply.header("Content-Length") == str(len(data))
    assert reply.header("ETag") == f'"{digest}"'


def test_empty_blob(api: RegistryApi, client: HttpClient, repo: str) -> None:
    digest = api.push_blob(repo, b"")
    reply = client.get(api.blob_path(repo, digest))
    assert reply.status == 200, str(reply)
    assert reply.body == b""
    assert reply.header("Content-Length") == "0"
    assert reply.header("Docker-Content-Digest") == digest


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        ("bytes=500-", 500, SIZE - 1),
        ("bytes=-100", SIZE - 100, SIZE - 1),
        ("bytes=990-5000", 990, SIZE - 1),
        ("bytes=999-999", SIZE - 1, SIZE - 1),
        ("bytes=-5000", 0, SIZE - 1),
    ],
)
def test_range_request_206(
    api: RegistryApi,
    client: HttpClient,
    repo: str,
    blob: tuple[str, bytes],
    range_header: str,
    start: int,
    end: int,
) -> None:
    digest, data = blob
    reply = client.get(api.blob_path(repo, digest), headers={"Range": range_header})
    assert reply.status == 206, str(reply)
    assert reply.body == data[start : end + 1]
    assert reply.header("Content-Range") == f"bytes {start}-{end}/{SIZE}"
    assert reply.header("Content-Length") == str(end - start + 1)
    assert reply.header("Docker-Content-Digest") == digest


@pytest.mark.parametrize(
    "range_header",
    [
        # unsatisfiable: first position at or past the end, or an empty suffix
        f"bytes={SIZE}-",
        f"bytes={SIZE}-{SIZE + 10}",
        "bytes=5000-6000",
        "bytes=-0",
        # malformed (the issue asks for 416 here rather than ignoring the header)
        "bytes=abc",
        "bytes=10-5",
        "bytes=",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=0x10-0x20",
        "bytes 0-10",
        "bytes=99999999999999999999999999-",
    ],
)
def test_range_request_416(
    api: RegistryApi, client: HttpClient, repo: str, blob: tuple[str, bytes], range_header: str
) -> None:
    digest, _ = blob
    reply = client.get(api.blob_path(repo, digest), headers={"Range": range_header})
    assert_error(reply, 416)
    assert reply.header("Content-Range") == f"bytes */{SIZE}", str(reply)


def test_multiple_ranges_never_fail_the_server(
    api: RegistryApi, client: HttpClient, repo: str, blob: tuple[str, bytes]
) -> None:
    digest, data = blob
    reply = client.get(api.blob_path(repo, digest), headers={"Range": "bytes=0-1,5-6"})
    assert reply.status in {200, 206, 416}, str(reply)
    if reply.status == 200:
        assert reply.body == data


def test_unknown_blob(api: RegistryApi, client: HttpClient, repo: str) -> None:
    api.push_blob(repo, b"something so that the repository exists")
    missing = digest_of(b"never pushed " + repo.encode())
    assert_error(client.get(api.blob_path(repo, missing)), 404, "BLOB_UNKNOWN")
    assert_error(client.head(api.blob_path(repo, missing)), 404)


def test_blob_in_unknown_repository(api: RegistryApi, client: HttpClient, repo: str) -> None:
    missing = digest_of(repo.encode())
    assert_error(client.get(api.blob_path(repo, missing)), 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


def test_blob_is_only_visible_in_repositories_that_link_it(
    api: RegistryApi, client: HttpClient, repo: str, blob: tuple[str, bytes]
) -> None:
    digest, _ = blob
    other = unique_repo("api")
    api.push_blob(other, b"other content")
    assert_error(client.get(api.blob_path(other, digest)), 404, "BLOB_UNKNOWN")
    assert_error(client.head(api.blob_path(other, digest)), 404)


def test_delete_blob(api: RegistryApi, client: HttpClient, repo: str) -> None:
    data = random_bytes(2048, repo)
    digest = api.push_blob(repo, data)
    other = unique_repo("api")
    api.push_blob(other, data)

    reply = client.delete(api.blob_path(repo, digest))
    assert reply.status == 202, str(reply)
    assert_error(client.head(api.blob_path(repo, digest)), 404)
    assert_error(client.get(api.blob_path(repo, digest)), 404, "BLOB_UNKNOWN")
    assert_error(client.delete(api.blob_path(repo, digest)), 404, "BLOB_UNKNOWN")
    # Deleting unlinks the blob from one repository; another repository keeps its copy.
    reply = client.get(api.blob_path(other, digest))
    assert reply.status == 200, str(reply)
    assert reply.body == data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_delete_blob_sha(api: RegistryApi, client: HttpClient, repo: str, algorithm: str) -> None:
    digest = api.push_blob(repo, b"delete me " + algorithm.encode(), algorithm)
    assert client.delete(api.blob_path(repo, digest)).status == 202
    assert_error(client.get(api.blob_path(repo, digest)), 404, "BLOB_UNKNOWN")
