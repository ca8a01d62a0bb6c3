"""Uploads that a server stop interrupts: a request body that stalls on demand, streamed from a
background thread, and finishing the upload afterwards as a client would (resume from ``Range``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

from tests.support.oci import digest_of
from tests.support.rawhttp import HttpClient, Reply, chunks_of, with_query
from tests.support.registry import OCTETS, RegistryApi, assert_error, upload_offset_from

__all__ = ["StalledBody", "resume_or_restart", "sha256_of_blob", "stream_in_background"]

MIB = 1024 * 1024


class StalledBody:
    """A request body that stops after ``limit`` bytes until released (or the server dies)."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.limit = limit
        self.reached = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in chunks_of(self.data, MIB):
            if sent >= self.limit and not self.reached.is_set():
                self.reached.set()
                self.release.wait(60)
            yield chunk
            sent += len(chunk)


def stream_in_background(
    url: str, method: str, target: str, body: StalledBody
) -> tuple[threading.Thread, list[Reply | BaseException]]:
    """Send the request in a thread; its reply (or the error that cut it) lands in the list."""
    outcome: list[Reply | BaseException] = []

    def run() -> None:
        with HttpClient(url) as http:
            try:
                outcome.append(
                    http.request(
                        method, target, body=body, content_length=len(body.data), headers=OCTETS
                    )
                )
            except Exception as error:  # the server goes away mid-request: that is the point
                outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def sha256_of_blob(http: HttpClient, repo: str, digest: str) -> str:
    reply = http.get(f"/v2/{repo}/blobs/{digest}")
    assert reply.status == 200, str(reply)
    return f"sha256:{hashlib.sha256(reply.body).hexdigest()}"


def resume_or_restart(
    http: HttpClient, repo: str, location: str, data: bytes, sent_at_most: int
) -> str:
    """Finish an interrupted upload as a client would; returns how it was finished.

    ``sent_at_most``: the bytes the client had sent, which the server must not claim to exceed.
    """
    digest = digest_of(data)
    status = http.get(location)
    if status.status == 404:
        assert_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
        RegistryApi(http).push_blob(repo, data)
        return "restarted"
    assert status.status == 204, str(status)
    offset = upload_offset_from(status)
    assert offset <= sent_at_most, f"server claims bytes it never got:\n{status}"
    location = status.header("Location") or location
    reply = http.patch(
        location,
        body=data[offset:],
        headers={**OCTETS, "Content-Range": f"{offset}-{len(data) - 1}"},
    )
    assert reply.status == 202, str(reply)
    assert reply.header("Range") == f"0-{len(data) - 1}", str(reply)
    reply = http.put(with_query(reply.header("Location") or location, digest=digest))
    assert reply.status == 201, str(reply)
    assert reply.header("Docker-Content-Digest") == digest, str(reply)
    return "resumed"
