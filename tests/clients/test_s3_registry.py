"""Drift on S3 (DRIFT_STORAGE_BACKEND=s3) against a real S3 server (SeaweedFS), as a client
sees it: skopeo round trips, chunked pushes of small chunks continued on another node, and
readiness. A wiretap between Drift and SeaweedFS shows what Drift asks of S3: completing an
upload never reads the data back (the blob is assembled server-side)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.checks import assert_copy_identical
from tests.support.images import build_image
from tests.support.layouts import read_oci_layout, write_oci_layout
from tests.support.rawhttp import HttpClient, with_query
from tests.support.registry import OCTETS, upload_offset_from
from tests.support.seaweedfs import BUCKET, SeaweedFS, new_prefix
from tests.support.servers import RunningRegistry, free_port, start_drift
from tests.support.skopeo import Skopeo
from tests.support.wiretap import RecordedRequest, Wiretap

pytestmark = pytest.mark.clients

MIB = 1 << 20
SECRET = "s3-registry-tests-shared-secret"


@dataclass
class S3Deployment:
    """Drift nodes sharing one S3 prefix (and secret), reaching SeaweedFS through a wiretap."""

    seaweedfs: SeaweedFS
    wiretap: Wiretap
    prefix: str
    tmp: Path

    def start_node(self, name: str) -> RunningRegistry:
        env = {
            **self.seaweedfs.drift_env(self.prefix),
            "DRIFT_S3_ENDPOINT": f"http://{self.wiretap.host_port}",
            "DRIFT_SECRET": SECRET,
        }
        return start_drift(self.tmp / name, env=env)

    def data_reads(self) -> list[RecordedRequest]:
        """GETs of blob or upload data (not of links, not listings) since the last clear."""
        return [
            request
            for request in self.wiretap.requests()
            if request.method == "GET"
            and request.path.startswith(f"/{BUCKET}/")
            and "list-type" not in request.query
            and (request.path.endswith("/data") or "/data!segments/" in request.path)
        ]

    def stored_keys(self, below: str = "") -> dict[str, int]:
        return self.seaweedfs.keys(f"{self.prefix}/{below}")


@pytest.fixture(scope="module")
def deployment(
    seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Deployment]:
    with Wiretap(seaweedfs.ports["s3"]) as wiretap:
        yield S3Deployment(seaweedfs, wiretap, new_prefix(), tmp_path_factory.mktemp("drift-s3"))


@pytest.fixture(scope="module")
def node_a(deployment: S3Deployment) -> Iterator[RunningRegistry]:
    with deployment.start_node("a") as node:
        yield node


@pytest.fixture(scope="module")
def node_b(deployment: S3Deployment) -> Iterator[RunningRegistry]:
    with deployment.start_node("b") as node:
        yield node


def test_skopeo_round_trip_is_byte_identical(
    deployment: S3Deployment,
    node_a: RunningRegistry,
    skopeo: Skopeo,
    rng: random.Random,
    tmp_path: Path,
) -> None:
    image = build_image(rng, layer_sizes=(64 * 1024, 6 * MIB + 12345))
    write_oci_layout(tmp_path / "src", {"v1": image.manifest}, image.blobs)
    remote = f"docker://{node_a.host_port}/library/on-s3"

    skopeo.copy(f"oci:{tmp_path / 'src'}:v1", f"{remote}:v1")

    assert skopeo.inspect_raw(f"{remote}:v1") == image.manifest.data
    skopeo.copy(f"{remote}:v1", f"oci:{tmp_path / 'out'}:v1")
    assert_copy_identical(read_oci_layout(tmp_path / "out"), "v1", image.manifest, image.blobs)
    stored = deployment.stored_keys("docker/registry/v2/blobs/")
    blobs = f"{deployment.prefix}/docker/registry/v2/blobs/sha256"
    for blob in (image.manifest, *image.blobs):
        hex_digest = blob.digest.split(":")[1]
        key = f"{blobs}/{hex_digest[:2]}/{hex_digest}/data"
        assert stored.get(key) == len(blob.data), key
    assert not [key for key in deployment.stored_keys() if "!segments" in key]  # uploads cleaned up


def test_small_chunks_continue_on_another_node_and_complete_server_side(
    deployment: S3Deployment, node_a: RunningRegistry, node_b: RunningRegistry
) -> None:
    data = random.Random("small chunks").randbytes(13 * MIB + 777)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    repo = "chunked/small"
    with HttpClient(node_a.url) as on_a, HttpClient(node_b.url) as on_b:
        started = on_a.post(f"/v2/{repo}/blobs/uploads/")
        assert started.status == 202, str(started)
        assert started.header("OCI-Chunk-Min-Length") == str(5 * MIB)
        location = on_a.target(started.header("Location") or "")
        offset = 0
        for index, size in enumerate([MIB] * 7 + [3 * MIB, 3 * MIB + 777]):
            client = on_a if index < 5 else on_b  # node b has no running hash: it re-hashes
            chunk = data[offset : offset + size]
            reply = client.patch(
                location,
                body=chunk,
                headers={**OCTETS, "Content-Range": f"{offset}-{offset + size - 1}"},
            )
            assert reply.status == 202, str(reply)
            offset += size
            assert upload_offset_from(reply) == offset
            assert reply.header("OCI-Chunk-Min-Length") == str(5 * MIB)
            location = client.target(reply.header("Location") or "")
        assert offset == len(data)

        deployment.wiretap.clear()
        done = on_b.put(with_query(location, digest=digest))
        assert done.status == 201, str(done)
        assert deployment.data_reads() == []  # the commit never reads the data back

        fetched = on_a.get(f"/v2/{repo}/blobs/{digest}")
        assert fetched.status == 200, str(fetched)
        assert fetched.body == data


def test_monolithic_upload_is_stored_without_reading_it_back(
    deployment: S3Deployment, node_a: RunningRegistry
) -> None:
    data = random.Random("monolithic").randbytes(7 * MIB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with HttpClient(node_a.url) as client:
        deployment.wiretap.clear()
        reply = client.post(
            with_query("/v2/mono/blobs/uploads/", digest=digest), body=data, headers=OCTETS
        )
        assert reply.status == 201, str(reply)
        assert deployment.data_reads() == []
        assert client.get(f"/v2/mono/blobs/{digest}").body == data


def test_readiness_follows_s3(
    deployment: S3Deployment, node_a: RunningRegistry, tmp_path: Path
) -> None:
    with HttpClient(node_a.url) as client:
        ready = client.get("/readyz")
        assert ready.status == 200, str(ready)
    env = {
        **deployment.seaweedfs.drift_env(new_prefix()),
        "DRIFT_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
    }
    with start_drift(tmp_path / "dead", env=env) as dead, HttpClient(dead.url) as client:
        started = time.monotonic()
        reply = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert reply.status == 503, str(reply)
    assert b"storage unavailable" in reply.body, str(reply)
    assert b"unreachable" in reply.body, str(reply)
    assert elapsed < 5, elapsed
