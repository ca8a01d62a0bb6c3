"""Content that skopeo pushes to one registry and another registry must serve byte for byte:
an OCI image, a multi-arch index and a Docker schema 2 image, with their tags."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

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
from tests.support.servers import RunningRegistry
from tests.support.skopeo import Skopeo

__all__ = ["Pushed", "assert_serves", "push", "sample"]

ACCEPT_ALL = ", ".join((OCI.manifest, OCI_INDEX, DOCKER.manifest))


@dataclass(frozen=True, slots=True)
class Pushed:
    """One manifest (or index) with its blobs, pushed under some tags of one repository."""

    repository: str
    tags: tuple[str, ...]
    top: Blob
    blobs: tuple[Blob, ...]
    docker: bool  # Docker media types travel through a `dir:` layout, OCI through `oci:`


def sample(
    rng: random.Random, prefix: str = "interop", large_layer: int = 400 * 1024
) -> tuple[Pushed, ...]:
    """The content, in repositories below ``prefix``; the OCI image has a ``large_layer``."""
    image = build_image(rng, layer_sizes=(16 * 1024, large_layer))
    platforms = ("amd64", "arm64")
    index = build_index(
        tuple(
            build_image(rng, layer_sizes=(8 * 1024,), platform=Platform("linux", arch))
            for arch in platforms
        )
    )
    docker = build_image(rng, media_types=DOCKER, layer_sizes=(32 * 1024,))
    return (
        Pushed(f"{prefix}/image", ("v1", "latest"), image.manifest, image.blobs, docker=False),
        Pushed(f"{prefix}/multi-arch", ("v2",), index.index, index.blobs, docker=False),
        Pushed(f"{prefix}/docker", ("v3",), docker.manifest, docker.blobs, docker=True),
    )


def push(skopeo: Skopeo, content: tuple[Pushed, ...], host_port: str, workdir: Path) -> None:
    oci = [p for p in content if not p.docker]
    write_oci_layout(
        workdir / "oci", {p.repository: p.top for p in oci}, [b for p in oci for b in p.blobs]
    )
    for pushed in content:
        if pushed.docker:
            write_dir_layout(workdir / pushed.repository, pushed.top, pushed.blobs)
            source = f"dir:{workdir / pushed.repository}"
        else:
            source = f"oci:{workdir / 'oci'}:{pushed.repository}"
        for tag in pushed.tags:
            skopeo.copy(source, f"docker://{host_port}/{pushed.repository}:{tag}", all_images=True)


def assert_serves(
    skopeo: Skopeo, content: tuple[Pushed, ...], server: RunningRegistry, workdir: Path
) -> None:
    """Tags, manifests (exact bytes, digest, media type) and blobs, copied out with skopeo."""
    for pushed in content:
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
