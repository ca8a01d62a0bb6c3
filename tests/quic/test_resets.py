"""Clients that give up half-way, against ``drift serve``: a stream reset in the middle of a
download or of an upload, and a connection closed during an upload. The server stops the
handler, stays healthy on the same and on new connections, and the upload stays resumable.
"""

from __future__ import annotations

import json
import random
import time

from tests.quic.scenarios import MIB, push_monolithic, wait_upload_settled
from tests.support.h3client import H3Client
from tests.support.interrupted import resume_or_restart
from tests.support.oci import digest_of
from tests.support.quic import H3Server
from tests.support.rawhttp import HttpClient
from tests.support.registry import OCTETS, RegistryApi, unique_repo, upload_offset_from


def _access_record(server: H3Server, method: str, path: str) -> dict[str, object]:
    """The access log line of the (only) h3 request ``method path``, once it was written."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in server.registry.log_path.read_text().splitlines():
            if '"drift.access"' not in line:
                continue
            record: dict[str, object] = json.loads(line)
            if (record["method"], record["path"], record["transport"]) == (method, path, "h3"):
                return record
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {method} {path} over h3")


def test_reset_mid_download_stops_the_handler(h3_server: H3Server, rng: random.Random) -> None:
    repo = unique_repo("reset")
    size = 32 * MIB
    with HttpClient(h3_server.registry.url) as h1:
        digest = push_monolithic(h1, repo, rng.randbytes(size))
    small = rng.randbytes(MIB)
    path = f"/v2/{repo}/blobs/{digest}"
    with h3_server.h3_client() as h3:
        received = h3.download_and_reset(path, after=MIB)
        assert MIB <= received < size
        # The same connection goes on serving; the blob still comes back whole.
        assert h3.get("/v2/").status == 200
        small_digest = push_monolithic(h3, repo, small)
        assert h3.get(f"/v2/{repo}/blobs/{small_digest}").body == small
    record = _access_record(h3_server, "GET", path)
    sent = record["bytes_out"]
    assert isinstance(sent, int)
    assert sent < size // 2, f"the server went on sending after the reset: {record}"


def test_reset_mid_upload_keeps_the_upload_resumable(
    h3_server: H3Server, rng: random.Random
) -> None:
    _interrupt_and_resume(h3_server, rng, close_connection=False)


def test_connection_lost_mid_upload_keeps_the_upload_resumable(
    h3_server: H3Server, rng: random.Random
) -> None:
    _interrupt_and_resume(h3_server, rng, close_connection=True)


def _interrupt_and_resume(h3_server: H3Server, rng: random.Random, close_connection: bool) -> None:
    repo = unique_repo("reset")
    data = rng.randbytes(10 * MIB)
    with h3_server.h3_client() as first:
        location = RegistryApi(first).start_upload(repo)

        def stored_two_blocks() -> bool:
            return upload_offset_from(first.get(location)) >= 2 * MIB

        first.upload_and_reset(
            "PATCH",
            location,
            data[: 4 * MIB],
            declared_length=len(data),
            headers=OCTETS,
            until=stored_two_blocks,
            close_connection=close_connection,
        )
    with h3_server.h3_client() as second:
        _resume(second, repo, location, data)


def _resume(http: H3Client, repo: str, location: str, data: bytes) -> None:
    kept = wait_upload_settled(http, location)
    assert 2 * MIB <= kept <= 4 * MIB, kept
    assert resume_or_restart(http, repo, location, data, sent_at_most=4 * MIB) == "resumed"
    assert http.get(f"/v2/{repo}/blobs/{digest_of(data)}").body == data
