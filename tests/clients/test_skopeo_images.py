"""skopeo copies images into the registry and back out with byte-identical digests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.checks import assert_copy_identical
from tests.support.http_client import http_request
from tests.support.images import DOCKER, OCI, Platform, build_image, build_index
from tests.support.layouts import (
    read_dir_layout,
    read_oci_layout,
    write_dir_layout,
    write_oci_layout,
)
from tests.support.servers import RunningRegistry
from tests.support.skopeo import Skopeo, SkopeoError
from tests.support.storage import blob_data, layer_link, repository_dir
from tests.support.wiretap import Wiretap

pytestmark = pytest.mark.clients

DRIFT_WORKERS = 2


def test_multi_layer_oci_image_round_trip(
    registry: RunningRegistry, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    image = build_image(rng)
    write_oci_layout(tmp_path / "src", {"v1": image.manifest}, image.blobs)
    remote = f"docker://{registry.host_port}/library/multi-layer"

    skopeo.copy(f"oci:{tmp_path / 'src'}:v1", f"{remote}:v1")

    assert skopeo.inspect_raw(f"{remote}:v1") == image.manifest.data
    assert skopeo.inspect_raw(f"{remote}@{image.manifest.digest}") == image.manifest.data
    skopeo.copy(f"{remote}:v1", f"oci:{tmp_path / 'out'}:v1")
    assert_copy_identical(read_oci_layout(tmp_path / "out"), "v1", image.manifest, image.blobs)


def test_multi_arch_index_round_trip(
    registry: RunningRegistry, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    images = tuple(
        build_image(rng, layer_sizes=(8 * 1024, 300 * 1024), platform=Platform("linux", arch))
        for arch in ("amd64", "arm64", "riscv64")
    )
    index = build_index(images)
    write_oci_layout(tmp_path / "src", {"v1": index.index}, index.blobs)
    remote = f"docker://{registry.host_port}/multi-arch"

    skopeo.copy(f"oci:{tmp_path / 'src'}:v1", f"{remote}:v1", all_images=True)

    assert skopeo.inspect_raw(f"{remote}:v1") == index.index.data
    for image in images:
        assert skopeo.inspect_raw(f"{remote}@{image.manifest.digest}") == image.manifest.data
    skopeo.copy(f"{remote}:v1", f"oci:{tmp_path / 'out'}:v1", all_images=True)
    assert_copy_identical(read_oci_layout(tmp_path / "out"), "v1", index.index, index.blobs)


def test_docker_schema2_image_round_trip(
    registry: RunningRegistry, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    image = build_image(rng, media_types=DOCKER)
    write_dir_layout(tmp_path / "src", image.manifest, image.blobs)
    remote = f"docker://{registry.host_port}/docker/schema2:v1"

    skopeo.copy(f"dir:{tmp_path / 'src'}", remote)

    assert skopeo.inspect_raw(remote) == image.manifest.data
    response = http_request(
        f"{registry.url}/v2/docker/schema2/manifests/v1", headers={"Accept": DOCKER.manifest}
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == DOCKER.manifest
    assert response.headers["Docker-Content-Digest"] == image.manifest.digest
    skopeo.copy(remote, f"dir:{tmp_path / 'out'}")
    assert_copy_identical(read_dir_layout(tmp_path / "out"), "", image.manifest, image.blobs)


def test_list_tags_and_delete(
    registry: RunningRegistry, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    first, second = (build_image(rng, layer_sizes=(4096,)) for _ in range(2))
    write_oci_layout(
        tmp_path / "src",
        {"first": first.manifest, "second": second.manifest},
        (*first.blobs, *second.blobs),
    )
    repository = f"docker://{registry.host_port}/tags/demo"
    skopeo.copy(f"oci:{tmp_path / 'src'}:first", f"{repository}:v1")
    for tag in ("v2", "latest"):
        skopeo.copy(f"oci:{tmp_path / 'src'}:second", f"{repository}:{tag}")
    assert skopeo.list_tags(repository) == ["latest", "v1", "v2"]

    # skopeo deletes by digest: the manifest goes, and with it every tag pointing at it.
    skopeo.delete(f"{repository}:v2")

    assert skopeo.list_tags(repository) == ["v1"]
    assert skopeo.inspect_raw(f"{repository}:v1") == first.manifest.data
    with pytest.raises(SkopeoError):
        skopeo.inspect_raw(f"{repository}:latest")
    gone = http_request(
        f"{registry.url}/v2/tags/demo/manifests/{second.manifest.digest}",
        headers={"Accept": OCI.manifest},
    )
    assert gone.status == 404
    assert gone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_repo_to_repo_copy_mounts_layers(
    registry: RunningRegistry, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    image = build_image(rng)
    write_oci_layout(tmp_path / "src", {"v1": image.manifest}, image.blobs)
    # skopeo picks mount sources from its blob-info cache (/var/lib/containers/cache for
    # root), which records where it pushed each blob: both copies go through the same
    # host:port so that the push to mount/source makes it a candidate for mount/target.
    with Wiretap(registry.port) as tap:
        skopeo.copy(f"oci:{tmp_path / 'src'}:v1", f"docker://{tap.host_port}/mount/source:v1")
        tap.clear()
        skopeo.copy(
            f"docker://{tap.host_port}/mount/source:v1",
            f"docker://{tap.host_port}/mount/target:v1",
        )
        requests = tap.requests()

    uploads = "/v2/mount/target/blobs/uploads/"
    mounted = {
        r.query["mount"][0]
        for r in requests
        if r.method == "POST" and r.path == uploads and r.query.get("from") == ["mount/source"]
    }
    committed = {
        r.query["digest"][0]
        for r in requests
        if r.method == "PUT" and r.path.startswith(uploads) and "digest" in r.query
    }
    layers = {layer.digest for layer in image.layers}
    assert mounted == layers
    # skopeo never mounts a config, it uploads it: seeing that upload proves the session
    # URLs the registry hands out kept the client on the wiretap.
    assert committed == {image.config.digest}
    layer_reads = {r.path.rpartition("/")[2] for r in requests if r.method == "GET"} & layers
    assert not layer_reads, f"layers downloaded instead of mounted: {layer_reads}"

    stored = registry.content  # the data directory, or the bucket of Drift on S3
    for blob in image.blobs:
        assert stored.read(blob_data(Path(), blob.digest)) == blob.data
        link = stored.read(layer_link(Path(), "mount/target", blob.digest))
        assert link is not None
        assert link.decode().strip() == blob.digest
    target_files = stored.files(repository_dir(Path(), "mount/target"))
    stored_data = [p for p in target_files if p.name != "link" and "_uploads" not in p.parts]
    assert not stored_data, f"blob data stored inside the repository: {stored_data}"
    assert skopeo.inspect_raw(f"docker://{registry.host_port}/mount/target:v1") == (
        image.manifest.data
    )
