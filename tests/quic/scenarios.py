"""Registry scenarios that run unchanged over HTTP/1.1 (``HttpClient``) and HTTP/3 (``H3Client``).

Both clients offer the same request API and return the same ``Reply``, so each scenario states
what any client must see; ``tests/quic/test_parity.py`` runs every one over both transports and
compares what they observed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Final

from tests.support.h3client import H3Client
from tests.support.interrupted import resume_or_restart
from tests.support.oci import OCI_MANIFEST, digest_of
from tests.support.rawhttp import HttpClient, Reply, chunks_of, with_query
from tests.support.registry import OCTETS, RegistryApi, assert_error, upload_offset_from

__all__ = [
    "MIB",
    "Client",
    "Interrupt",
    "error_observations",
    "pull_whole_and_ranges",
    "push_chunked",
    "push_monolithic",
    "push_pull_image",
    "resume_interrupted_patch",
    "wait_upload_settled",
]

MIB: Final = 1024 * 1024
Client = HttpClient | H3Client
# (client, upload location, bytes to send, declared length): cut a PATCH off mid-body
Interrupt = Callable[[Client, str, bytes, int], None]
_ZERO_DIGEST: Final = "sha256:" + "0" * 64


def _blob_path(repo: str, digest: str) -> str:
    return f"/v2/{repo}/blobs/{digest}"


def push_monolithic(http: Client, repo: str, data: bytes) -> str:
    """POST ``?digest=`` with the whole body (distribution-spec "monolithic upload")."""
    digest = digest_of(data)
    reply = http.post(with_query(f"/v2/{repo}/blobs/uploads/", digest=digest), body=data)
    assert reply.status == 201, str(reply)
    assert reply.header("Docker-Content-Digest") == digest, str(reply)
    head = http.head(_blob_path(repo, digest))
    assert head.status == 200, str(head)
    assert head.header("Content-Length") == str(len(data)), str(head)
    return digest


def push_chunked(http: Client, repo: str, data: bytes, chunk: int) -> str:
    """POST, then PATCH chunks (the last one streamed without a length), then PUT."""
    digest = digest_of(data)
    location = RegistryApi(http).start_upload(repo)
    offset = 0
    pieces = list(chunks_of(data, chunk))
    for piece in pieces[:-1]:
        reply = http.patch(
            location,
            body=piece,
            headers={**OCTETS, "Content-Range": f"{offset}-{offset + len(piece) - 1}"},
        )
        assert reply.status == 202, str(reply)
        offset += len(piece)
        assert reply.header("Range") == f"0-{offset - 1}", str(reply)
        location = reply.header("Location") or location
    streamed = http.patch(location, body=iter(chunks_of(pieces[-1], 64 * 1024)), headers=OCTETS)
    assert streamed.status == 202, str(streamed)
    assert streamed.header("Range") == f"0-{len(data) - 1}", str(streamed)
    location = streamed.header("Location") or location
    done = http.put(with_query(location, digest=digest))
    assert done.status == 201, str(done)
    return digest


def pull_whole_and_ranges(http: Client, repo: str, data: bytes) -> None:
    digest = push_monolithic(http, repo, data)
    whole = http.get(_blob_path(repo, digest))
    assert whole.status == 200, str(whole)
    assert whole.body == data, "blob differs"
    assert whole.header("Docker-Content-Digest") == digest, str(whole)
    size = len(data)
    for header, start, end in (
        ("bytes=0-0", 0, 0),
        ("bytes=100-4195", 100, 4195),
        (f"bytes={size - 10}-", size - 10, size - 1),
        ("bytes=-7", size - 7, size - 1),
    ):
        part = http.get(_blob_path(repo, digest), headers={"Range": header})
        assert part.status == 206, str(part)
        assert part.body == data[start : end + 1], f"range {header} differs"
        assert part.header("Content-Range") == f"bytes {start}-{end}/{size}", str(part)
    refused = http.get(_blob_path(repo, digest), headers={"Range": f"bytes={size}-"})
    assert_error(refused, 416)
    assert refused.header("Content-Range") == f"bytes */{size}", str(refused)


def push_pull_image(http: Client, repo: str) -> None:
    api = RegistryApi(http)
    image = api.push_image(repo, "v1", layers=3, layer_size=200_000)
    api.assert_pullable(image)
    tags = http.get(f"/v2/{repo}/tags/list")
    assert tags.status == 200, str(tags)
    assert tags.json() == {"name": repo, "tags": ["v1"]}, str(tags)
    gone = http.delete(f"/v2/{repo}/manifests/{image.digest}")
    assert gone.status == 202, str(gone)
    assert_error(http.get(f"/v2/{repo}/manifests/v1"), 404, "MANIFEST_UNKNOWN")


def error_observations(http: Client, repo: str) -> list[tuple[str, int, tuple[str, ...]]]:
    """Requests that must fail, each with its OCI error code; returns what was seen."""
    upload = RegistryApi(http).start_upload(repo)
    cases: list[tuple[str, Reply, int, tuple[str, ...]]] = [
        ("unknown blob", http.get(_blob_path(repo, _ZERO_DIGEST)), 404, ("BLOB_UNKNOWN",)),
        ("bad digest", http.get(_blob_path(repo, "sha256:xyz")), 400, ("DIGEST_INVALID",)),
        ("unknown tag", http.get(f"/v2/{repo}/manifests/nope"), 404, ("MANIFEST_UNKNOWN",)),
        ("bad name", http.get("/v2/UPPER/tags/list"), 400, ("NAME_INVALID",)),
        (
            "unknown upload",
            http.get(f"/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000"),
            404,
            ("BLOB_UPLOAD_UNKNOWN",),
        ),
        (
            "digest mismatch",
            http.put(with_query(upload, digest=_ZERO_DIGEST), body=b"not zero", headers=OCTETS),
            400,
            ("DIGEST_INVALID",),
        ),
        (
            "bad manifest",
            http.put(
                f"/v2/{repo}/manifests/v1",
                body=b"{not json",
                headers={"Content-Type": OCI_MANIFEST},
            ),
            400,
            ("MANIFEST_INVALID",),
        ),
        ("unknown endpoint", http.get("/v2/_nothing_here/x"), 404, ()),
    ]
    seen = []
    for label, reply, status, codes in cases:
        assert_error(reply, status, *codes)
        seen.append((label, reply.status, tuple(reply.error_codes)))
    return seen


def wait_upload_settled(http: Client, location: str, timeout: float = 20.0) -> int:
    """The size an interrupted upload keeps, once the server stopped writing to it."""
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    while time.monotonic() < deadline:
        reply = http.get(location)
        assert reply.status == 204, str(reply)
        seen.append(upload_offset_from(reply))
        if len(seen) >= 4 and len(set(seen[-4:])) == 1:
            return seen[-1]
        time.sleep(0.1)
    raise AssertionError(f"upload size never settled: {seen}")


def resume_interrupted_patch(
    http: Client, repo: str, rng: random.Random, interrupt: Interrupt
) -> int:
    """A PATCH cut off after 3 of 8 MiB; the client then resumes from the upload's ``Range``.

    Returns the bytes the server kept from the interrupted request.
    """
    data = rng.randbytes(8 * MIB)
    sent = 3 * MIB
    location = RegistryApi(http).start_upload(repo)
    interrupt(http, location, data[:sent], len(data))
    kept = wait_upload_settled(http, location)
    assert resume_or_restart(http, repo, location, data, sent_at_most=sent) == "resumed"
    pulled = http.get(_blob_path(repo, digest_of(data)))
    assert pulled.body == data, "the resumed blob differs"
    return kept
