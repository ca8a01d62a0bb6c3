"""Pulling blobs from Drift on S3 (SeaweedFS): presigned redirects, streaming through, and the
hybrid tier's local cache, seen from real clients (skopeo, raw HTTP/1.1, HTTP/3).

Three Drift nodes share one key prefix: ``redirecting`` (``redirect`` on, URLs signed for a
"public" endpoint: a relay in front of SeaweedFS, which records what clients fetch there; with
its HTTP/3 listener),
``proxied`` (``redirect`` off) and ``caching`` (a cache directory, two worker processes;
``redirect`` on, which the cache overrides). Drift reaches SeaweedFS through a wiretap, which
shows what each node asks of S3.
"""

from __future__ import annotations

import hashlib
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.checks import assert_copy_identical
from tests.support.images import build_image
from tests.support.layouts import read_oci_layout, write_oci_layout
from tests.support.polling import eventually
from tests.support.quic import H3Server, start_drift_h3
from tests.support.rawhttp import HttpClient, Reply, with_query
from tests.support.registry import OCTETS
from tests.support.seaweedfs import BUCKET, SeaweedFS, new_prefix
from tests.support.servers import RunningRegistry, start_drift
from tests.support.skopeo import Skopeo
from tests.support.wiretap import RecordedRequest, Wiretap

pytestmark = pytest.mark.clients

MIB = 1 << 20
REPO = "pulls/blobs"


@dataclass
class Pulls:
    seaweedfs: SeaweedFS
    backend: Wiretap  # Drift -> S3
    public: Wiretap  # clients -> S3, the endpoint presigned URLs name
    prefix: str
    tmp: Path

    def env(self) -> dict[str, str]:
        return {
            **self.seaweedfs.drift_env(self.prefix),
            "DRIFT_S3_ENDPOINT": f"http://{self.backend.host_port}",
        }

    def start(self, name: str, workers: int = 1, **env: str) -> RunningRegistry:
        return start_drift(self.tmp / name, workers=workers, env={**self.env(), **env})

    def data_requests(self, digest: str) -> list[RecordedRequest]:
        """What Drift asked of S3 about the blob's data object since the last clear."""
        key = f"/{BUCKET}/{self.prefix}/docker/registry/v2/blobs/{blob_key(digest)}"
        return [request for request in self.backend.requests() if request.path == key]


def blob_key(digest: str) -> str:
    algorithm, hex_digest = digest.split(":")
    return f"{algorithm}/{hex_digest[:2]}/{hex_digest}/data"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def pulls(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulls]:
    port = seaweedfs.ports["s3"]
    with Wiretap(port) as backend, Wiretap(port) as public:
        yield Pulls(seaweedfs, backend, public, new_prefix(), tmp_path_factory.mktemp("pulls"))


@pytest.fixture(scope="module")
def redirecting_h3(pulls: Pulls) -> Iterator[H3Server]:
    env = {
        **pulls.env(),
        "DRIFT_S3_REDIRECT": "true",
        "DRIFT_S3_PUBLIC_ENDPOINT": f"http://{pulls.public.host_port}",
    }
    with start_drift_h3(pulls.tmp / "redirecting", env=env) as node:
        yield node


@pytest.fixture(scope="module")
def redirecting(redirecting_h3: H3Server) -> RunningRegistry:
    return redirecting_h3.registry


@pytest.fixture(scope="module")
def proxied(pulls: Pulls) -> Iterator[RunningRegistry]:
    with pulls.start("proxied", DRIFT_S3_REDIRECT="false") as node:
        yield node


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blob-cache")


@pytest.fixture(scope="module")
def caching(pulls: Pulls, cache_dir: Path) -> Iterator[RunningRegistry]:
    env = {"DRIFT_S3_REDIRECT": "true", "DRIFT_S3_CACHE_DIR": str(cache_dir)}
    with pulls.start("caching", workers=2, **env) as node:
        yield node


def push(node: RunningRegistry, data: bytes) -> str:
    digest = digest_of(data)
    with HttpClient(node.url) as client:
        target = with_query(f"/v2/{REPO}/blobs/uploads/", digest=digest)
        reply = client.post(target, body=data, headers=OCTETS)
    assert reply.status == 201, str(reply)
    return digest


def fetch(url: str, headers: dict[str, str] | None = None) -> Reply:
    parts = urlsplit(url)
    with HttpClient(f"{parts.scheme}://{parts.netloc}") as client:
        return client.get(url, headers=headers or {})


def cached_file(cache_dir: Path, digest: str) -> Path:
    algorithm, hex_digest = digest.split(":")
    return cache_dir / "blobs" / algorithm / hex_digest[:2] / hex_digest


# -- redirects ------------------------------------------------------------------------------


def test_get_redirects_to_a_url_presigned_for_the_public_endpoint(
    pulls: Pulls, proxied: RunningRegistry, redirecting: RunningRegistry
) -> None:
    data = random.Random("redirect").randbytes(3 * MIB + 5)
    digest = push(proxied, data)
    pulls.backend.clear()
    pulls.public.clear()
    with HttpClient(redirecting.url) as client:
        reply = client.get(f"/v2/{REPO}/blobs/{digest}")
    assert reply.status == 307, str(reply)
    assert reply.header("Docker-Content-Digest") == digest
    assert reply.header("Content-Length") == "0"
    location = reply.header("Location") or ""
    assert urlsplit(location).netloc == pulls.public.host_port, location
    assert "X-Amz-Signature=" in location, location  # Signature Version 4
    assert [r.method for r in pulls.data_requests(digest)] == ["HEAD"]  # stat only

    fetched = fetch(location)
    assert fetched.status == 200, str(fetched)
    assert digest_of(fetched.body) == digest
    assert fetched.body == data
    assert [r.path for r in pulls.public.requests()] == [urlsplit(location).path]


def test_a_range_is_redirected_and_s3_answers_it(
    proxied: RunningRegistry, redirecting: RunningRegistry
) -> None:
    data = random.Random("ranged redirect").randbytes(2 * MIB)
    digest = push(proxied, data)
    headers = {"Range": "bytes=1000-1999"}
    with HttpClient(redirecting.url) as client:
        reply = client.get(f"/v2/{REPO}/blobs/{digest}", headers=headers)
        assert reply.status == 307, str(reply)
        refused = client.get(f"/v2/{REPO}/blobs/{digest}", headers={"Range": "bytes=5000000-"})
    assert refused.status == 416, str(refused)  # checked by Drift, before any redirect
    fetched = fetch(reply.header("Location") or "", headers)  # a client re-sends the Range
    assert fetched.status == 206, str(fetched)
    assert fetched.body == data[1000:2000]
    assert fetched.header("Content-Range") == f"bytes 1000-1999/{len(data)}"


def test_head_never_redirects_nor_reads_the_data(
    pulls: Pulls, proxied: RunningRegistry, redirecting: RunningRegistry
) -> None:
    data = random.Random("head").randbytes(MIB + 1)
    digest = push(proxied, data)
    for node in (redirecting, proxied):
        pulls.backend.clear()
        with HttpClient(node.url) as client:
            reply = client.head(f"/v2/{REPO}/blobs/{digest}")
        assert reply.status == 200, str(reply)
        assert reply.header("Location") is None
        assert reply.header("Content-Length") == str(len(data))
        assert reply.header("Docker-Content-Digest") == digest
        assert [r.method for r in pulls.data_requests(digest)] == ["HEAD"]


def test_skopeo_follows_redirects_to_s3(
    pulls: Pulls,
    proxied: RunningRegistry,
    redirecting: RunningRegistry,
    skopeo: Skopeo,
    rng: random.Random,
    tmp_path: Path,
) -> None:
    image = build_image(rng, layer_sizes=(300 * 1024, 4 * MIB + 7))
    write_oci_layout(tmp_path / "src", {"v1": image.manifest}, image.blobs)
    skopeo.copy(f"oci:{tmp_path / 'src'}:v1", f"docker://{proxied.host_port}/pulls/image:v1")
    pulls.backend.clear()
    pulls.public.clear()

    skopeo.copy(f"docker://{redirecting.host_port}/pulls/image:v1", f"oci:{tmp_path / 'out'}:v1")

    assert_copy_identical(read_oci_layout(tmp_path / "out"), "v1", image.manifest, image.blobs)
    fetched_from_s3 = {r.path for r in pulls.public.requests() if r.method == "GET"}
    for blob in image.blobs:  # config and layers: from S3 directly, not through Drift
        assert f"/{BUCKET}/{pulls.prefix}/docker/registry/v2/blobs/{blob_key(blob.digest)}" in (
            fetched_from_s3
        )
        assert "GET" not in [r.method for r in pulls.data_requests(blob.digest)]


# -- streaming through ----------------------------------------------------------------------


def test_without_redirects_blobs_and_ranges_stream_through(
    pulls: Pulls, proxied: RunningRegistry
) -> None:
    data = random.Random("proxied").randbytes(6 * MIB + 3)
    digest = push(proxied, data)
    pulls.public.clear()
    with HttpClient(proxied.url) as client:
        whole = client.get(f"/v2/{REPO}/blobs/{digest}")
        middle = client.get(f"/v2/{REPO}/blobs/{digest}", headers={"Range": "bytes=100-5000000"})
        tail = client.get(f"/v2/{REPO}/blobs/{digest}", headers={"Range": "bytes=-10"})
    assert whole.status == 200, str(whole)
    assert whole.body == data
    assert middle.status == 206, str(middle)
    assert middle.body == data[100:5000001]
    assert middle.header("Content-Range") == f"bytes 100-5000000/{len(data)}"
    assert tail.status == 206, str(tail)
    assert tail.body == data[-10:]
    assert pulls.public.requests() == []


# -- the hybrid tier ------------------------------------------------------------------------


def test_a_cold_miss_fills_the_cache_and_hits_read_nothing_from_s3(
    pulls: Pulls, proxied: RunningRegistry, caching: RunningRegistry, cache_dir: Path
) -> None:
    data = random.Random("cache hit").randbytes(8 * MIB + 11)
    digest = push(proxied, data)
    target = f"/v2/{REPO}/blobs/{digest}"
    with HttpClient(caching.url) as client:
        pulls.backend.clear()
        cold = client.get(target)
        assert cold.status == 200, str(cold)  # the cache wins over redirect = true
        assert cold.body == data
        assert "GET" in [r.method for r in pulls.data_requests(digest)]
        eventually(lambda: cached_file(cache_dir, digest).exists())
        assert cached_file(cache_dir, digest).read_bytes() == data

        pulls.backend.clear()
        for _ in range(4):  # both workers (connections spread over them)
            with HttpClient(caching.url) as fresh:
                hot = fresh.get(target)
                assert hot.status == 200, str(hot)
                assert hot.body == data
        ranged = client.get(target, headers={"Range": "bytes=7-70"})
        assert ranged.status == 206, str(ranged)
        assert ranged.body == data[7:71]
        assert [r.method for r in pulls.data_requests(digest)] == ["HEAD"] * 5


def test_a_blob_gone_from_s3_is_not_served_from_the_cache(
    pulls: Pulls, proxied: RunningRegistry, caching: RunningRegistry, cache_dir: Path
) -> None:
    data = random.Random("collected").randbytes(MIB)
    digest = push(proxied, data)
    with HttpClient(caching.url) as client:
        assert client.get(f"/v2/{REPO}/blobs/{digest}").body == data
        eventually(lambda: cached_file(cache_dir, digest).exists())
        key = f"{pulls.prefix}/docker/registry/v2/blobs/{blob_key(digest)}"
        pulls.seaweedfs.client().delete_object(Bucket=BUCKET, Key=key)  # GC on another node

        reply = client.get(f"/v2/{REPO}/blobs/{digest}")
    assert reply.status == 404, str(reply)
    assert not cached_file(cache_dir, digest).exists()


def test_concurrent_cold_misses_leave_one_valid_file(
    proxied: RunningRegistry, caching: RunningRegistry, cache_dir: Path
) -> None:
    data = random.Random("concurrent").randbytes(24 * MIB)
    digest = push(proxied, data)
    bodies: list[bytes] = []
    start = threading.Barrier(3)

    def pull() -> None:
        with HttpClient(caching.url) as client:
            start.wait()
            reply = client.get(f"/v2/{REPO}/blobs/{digest}")
        assert reply.status == 200, str(reply)
        bodies.append(reply.body)

    threads = [threading.Thread(target=pull) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(bodies) == 3
    assert all(body == data for body in bodies)
    eventually(lambda: not list((cache_dir / "tmp").iterdir()))
    found = list((cache_dir / "blobs").rglob(digest.split(":")[1]))
    assert found == [cached_file(cache_dir, digest)]
    assert hashlib.sha256(found[0].read_bytes()).hexdigest() == digest.split(":")[1]


def test_a_client_gone_mid_miss_leaves_no_partial_file(
    proxied: RunningRegistry, caching: RunningRegistry, cache_dir: Path
) -> None:
    data = random.Random("disconnect").randbytes(32 * MIB)
    digest = push(proxied, data)
    request = f"GET /v2/{REPO}/blobs/{digest} HTTP/1.1\r\nHost: {caching.host_port}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", caching.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(request.encode())
        received = 0
        while received < 2 * MIB:
            chunk = sock.recv(256 * 1024)
            assert chunk, "the server closed early"
            received += len(chunk)
        assert list((cache_dir / "tmp").iterdir())  # a fill was under way
    eventually(lambda: not list((cache_dir / "tmp").iterdir()))
    assert not cached_file(cache_dir, digest).exists()


def test_quic_and_if_range_requests_are_served_by_drift(
    pulls: Pulls, proxied: RunningRegistry, redirecting_h3: H3Server
) -> None:
    data = random.Random("not redirected").randbytes(300 * 1024)
    digest = push(proxied, data)
    target = f"/v2/{REPO}/blobs/{digest}"
    pulls.public.clear()
    with redirecting_h3.h3_client() as bolt:  # Bolt nodes pull over HTTP/3 from Drift itself
        over_quic = bolt.request("GET", target)
    assert over_quic.status == 200, str(over_quic)
    assert over_quic.body == data
    conditional = {"Range": "bytes=10-19", "If-Range": f'"{digest}"'}  # S3 has other ETags
    with HttpClient(redirecting_h3.registry.url) as client:
        reply = client.get(target, headers=conditional)
    assert reply.status == 206, str(reply)
    assert reply.body == data[10:20]
    assert pulls.public.requests() == []
