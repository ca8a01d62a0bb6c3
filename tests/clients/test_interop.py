"""Drift and the reference registry (CNCF distribution) serve each other's data directory.

Content is pushed with skopeo to one server, that server is stopped, and the other one, started
on the same directory, must serve the same tags, manifests (exact bytes) and blobs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.checks import assert_copy_identical
from tests.support.http_client import http_request
from tests.support.images import (
    DOCKER,
    OCI,
    OCI_INDEX,
    Blob,
    Platform,
    build_image,
    build_index,
)
from tests.support.layouts import (
    read_dir_layout,
    read_oci_layout,
    write_dir_layout,
    write_oci_layout,
)
from tests.support.servers import RunningRegistry, start_drift, start_reference
from tests.support.skopeo import Skopeo

pytestmark = pytest.mark.clients

ACCEPT_ALL = ", ".join((OCI.manifest, OCI_INDEX, DOCKER.manifest))


@dataclass(frozen=True, slots=True)
class Pushed:
    """One manifest (or index) with its blobs, pushed under some tags of one repository."""

    repository: str
    tags: tuple[str, ...]
    top: Blob
    blobs: tuple[Blob, ...]
    docker: bool  # Docker media types travel through a `dir:` layout, OCI through `oci:`


def _sample(rng: random.Random) -> tuple[Pushed, ...]:
    image = build_image(rng, layer_sizes=(16 * 1024, 400 * 1024))
    platforms = ("amd64", "arm64")
    index = build_index(
        tuple(
            build_image(rng, layer_sizes=(8 * 1024,), platform=Platform("linux", arch))
            for arch in platforms
        )
    )
    docker = build_image(rng, media_types=DOCKER, layer_sizes=(32 * 1024,))
    return (
        Pushed("interop/image", ("v1", "latest"), image.manifest, image.blobs, docker=False),
        Pushed("interop/multi-arch", ("v2",), index.index, index.blobs, docker=False),
        Pushed("interop/docker", ("v3",), docker.manifest, docker.blobs, docker=True),
    )


def _push(skopeo: Skopeo, sample: tuple[Pushed, ...], host_port: str, workdir: Path) -> None:
    oci = [p for p in sample if not p.docker]
    write_oci_layout(
        workdir / "oci", {p.repository: p.top for p in oci}, [b for p in oci for b in p.blobs]
    )
    for pushed in sample:
        if pushed.docker:
            write_dir_layout(workdir / pushed.repository, pushed.top, pushed.blobs)
            source = f"dir:{workdir / pushed.repository}"
        else:
            source = f"oci:{workdir / 'oci'}:{pushed.repository}"
        for tag in pushed.tags:
            skopeo.copy(source, f"docker://{host_port}/{pushed.repository}:{tag}", all_images=True)


def _assert_serves(
    skopeo: Skopeo, sample: tuple[Pushed, ...], server: RunningRegistry, workdir: Path
) -> None:
    for pushed in sample:
        tags = http_request(f"{server.url}/v2/{pushed.repository}/tags/list")
        assert tags.status == 200
        assert tags.json() == {"name": pushed.repository, "tags": sorted(pushed.tags)}
        for tag in pushed.tags:
            response = http_request(
                f"{server.url}/v2/{pushed.repository}/manifests/{tag}",
                headers={"Accept": ACCEPT_ALL},
            )
            assert response.status == 200
            assert response.body == pushed.top.data
            assert response.headers["Docker-Content-Digest"] == pushed.top.digest
            assert response.headers["Content-Type"] == pushed.top.media_type

        remote = f"docker://{server.host_port}/{pushed.repository}:{pushed.tags[0]}"
        out = workdir / pushed.repository
        out.parent.mkdir(parents=True, exist_ok=True)
        if pushed.docker:
            skopeo.copy(remote, f"dir:{out}")
            copied = read_dir_layout(out)
            ref = ""
        else:
            ref = pushed.tags[0]
            skopeo.copy(remote, f"oci:{out}:{ref}", all_images=True)
            copied = read_oci_layout(out)
        assert_copy_identical(copied, ref, pushed.top, pushed.blobs)


Starter = Callable[[Path], RunningRegistry]


@pytest.mark.parametrize(
    ("writer", "reader"),
    [(start_reference, start_drift), (start_drift, start_reference)],
    ids=["reference-to-drift", "drift-to-reference"],
)
def test_same_directory_served_by_the_other_registry(
    writer: Starter,
    reader: Starter,
    skopeo: Skopeo,
    rng: random.Random,
    tmp_path: Path,
) -> None:
    sample = _sample(rng)
    root = tmp_path / "data"
    with writer(root) as first:
        _push(skopeo, sample, first.host_port, tmp_path / "src")
        _assert_serves(skopeo, sample, first, tmp_path / "first")
    with reader(root) as second:
        _assert_serves(skopeo, sample, second, tmp_path / "second")
