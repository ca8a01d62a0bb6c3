"""A large pull over HTTP/3 with the server's resident memory sampled: it must stay flat.

The blob size is ``DRIFT_TEST_H3_PULL_MIB`` (default 256; the issue's figure is 1024): the
response writer reads the file in chunks as the peer's flow control and the send buffer drain,
so the memory a pull needs does not depend on the blob's size. curl_cffi (libcurl) pulls, fast
enough that the server is the bottleneck; the server sends 16 KiB datagrams.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from curl_cffi import CurlHttpVersion, requests

from tests.quic.scenarios import MIB
from tests.support.quic import H3Server, start_drift_h3
from tests.support.storage import blob_data, layer_link

pytestmark = pytest.mark.slow

BIG_MIB = int(os.environ.get("DRIFT_TEST_H3_PULL_MIB", "256"))
SMALL_MIB = 16
REPO = "memory/pull"
FLAT = 16 * MIB  # what a bigger blob may add to the peak RSS of a smaller one


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H3Server]:
    root = tmp_path_factory.mktemp("quic-memory") / "data"
    with start_drift_h3(root, env={"DRIFT_QUIC_MAX_DATAGRAM_SIZE": "16384"}) as running:
        yield running


def _store_blob(root: Path, size: int) -> str:
    """Write a blob of random bytes straight into the v2 layout; its digest."""
    hasher = hashlib.sha256()
    temporary = root / f"blob-{size}.tmp"
    with temporary.open("wb") as out:
        for _ in range(size // MIB):
            block = os.urandom(MIB)
            hasher.update(block)
            out.write(block)
    digest = f"sha256:{hasher.hexdigest()}"
    data = blob_data(root, digest)
    data.parent.mkdir(parents=True, exist_ok=True)
    temporary.rename(data)
    link = layer_link(root, REPO, digest)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.write_text(digest)
    return digest


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _pull_sampling(server: H3Server, digest: str) -> tuple[str, int, int]:
    """Pull the blob; its digest as received, its size, and the server's peak RSS meanwhile."""
    pid = server.registry.process.pid
    peak, done = [_rss(pid)], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    hasher, size = hashlib.sha256(), 0
    try:
        with requests.Session(http_version=CurlHttpVersion.V3ONLY, verify=False) as session:
            url = f"{server.h3_url}/v2/{REPO}/blobs/{digest}"
            response = session.get(url, stream=True, timeout=600)
            assert response.status_code == 200
            assert response.http_version == 30
            for chunk in response.iter_content():
                hasher.update(chunk)
                size += len(chunk)
    finally:
        done.set()
        sampler.join()
    return f"sha256:{hasher.hexdigest()}", size, peak[0]


def test_pull_memory_is_flat_in_the_blob_size(server: H3Server) -> None:
    small = _store_blob(server.registry.root, SMALL_MIB * MIB)
    big = _store_blob(server.registry.root, BIG_MIB * MIB)
    for _ in range(2):  # warm up: first-use allocations are not a function of the blob size
        received, size, small_peak = _pull_sampling(server, small)
        assert (received, size) == (small, SMALL_MIB * MIB)
    started = time.monotonic()
    received, size, big_peak = _pull_sampling(server, big)
    seconds = time.monotonic() - started
    assert (received, size) == (big, BIG_MIB * MIB)
    growth = big_peak - small_peak
    assert growth < FLAT, (
        f"peak RSS {small_peak / MIB:.0f} MiB pulling {SMALL_MIB} MiB but "
        f"{big_peak / MIB:.0f} MiB pulling {BIG_MIB} MiB ({size / seconds / 1e6:.0f} MB/s)"
    )
