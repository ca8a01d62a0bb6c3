"""A commit whose digest does not match the uploaded bytes is ``DIGEST_INVALID`` and stores
nothing: no blob under either digest, no link in the repository."""

from __future__ import annotations

import pytest

from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import with_query
from tests.support.registry import OCTETS, ClientPool, RegistryApi, assert_error, unique_repo
from tests.support.servers import RunningRegistry
from tests.support.storage import blob_data, layer_link

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("flow", ["post-put", "single-post", "chunked"])
@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_wrong_digest_on_commit(
    shared_drift: RunningRegistry, pool: ClientPool, flow: str, algorithm: str
) -> None:
    http = pool.client()
    api = RegistryApi(http)
    repo = unique_repo("mismatch")
    api.push_blob(repo, b"the repository exists")
    data = random_bytes(3 * 1024 * 1024, f"{flow}-{algorithm}")
    actual = digest_of(data, algorithm)
    claimed = digest_of(data + b"!", algorithm)

    if flow == "single-post":
        reply = http.post(
            with_query(api.uploads_path(repo), digest=claimed), body=data, headers=OCTETS
        )
    else:
        location = api.start_upload(repo)
        body = data
        if flow == "chunked":
            first = http.patch(
                location, body=data[:1_000_000], headers={**OCTETS, "Content-Range": "0-999999"}
            )
            assert first.status == 202, str(first)
            location = first.header("Location") or location
            body = data[1_000_000:]
        reply = http.put(with_query(location, digest=claimed), body=body, headers=OCTETS)
    assert_error(reply, 400, "DIGEST_INVALID")

    for digest in (actual, claimed):
        assert_error(http.head(api.blob_path(repo, digest)), 404)
        assert_error(http.get(api.blob_path(repo, digest)), 404, "BLOB_UNKNOWN")
        assert not blob_data(shared_drift.root, digest).exists()
        assert not layer_link(shared_drift.root, repo, digest).exists()

    # The content itself is fine: pushed with the right digest it is accepted.
    assert api.push_blob(repo, data, algorithm) == actual
