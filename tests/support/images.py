"""Building images, indexes and artifacts in memory: random gzip layers, configs and manifests.

Manifests are serialized with indentation and a trailing newline on purpose: a registry that
re-encodes JSON instead of keeping the exact bytes changes their digest, and the tests see it.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from dataclasses import dataclass
from typing import Any, Final

from tests.support.oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    digest_of,
)

__all__ = [
    "DOCKER",
    "OCI",
    "OCI_INDEX",
    "Blob",
    "Image",
    "ImageIndex",
    "MediaTypes",
    "Platform",
    "build_artifact",
    "build_image",
    "build_index",
    "sha256_digest",
]

EMPTY_JSON: Final = b"{}"


@dataclass(frozen=True, slots=True)
class MediaTypes:
    manifest: str
    config: str
    layer: str


OCI = MediaTypes(manifest=OCI_MANIFEST, config=OCI_CONFIG, layer=OCI_LAYER)
DOCKER = MediaTypes(manifest=DOCKER_MANIFEST, config=DOCKER_CONFIG, layer=DOCKER_LAYER)


def sha256_digest(data: bytes) -> str:
    return digest_of(data, "sha256")


@dataclass(frozen=True, slots=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)} | extra


@dataclass(frozen=True, slots=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"


@dataclass(frozen=True, slots=True)
class Image:
    """A manifest (image or artifact) with the blobs it references."""

    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    platform: Platform

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)


@dataclass(frozen=True, slots=True)
class ImageIndex:
    index: Blob
    images: tuple[Image, ...]

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return tuple(blob for image in self.images for blob in (image.manifest, *image.blobs))


def build_image(
    rng: random.Random,
    *,
    media_types: MediaTypes = OCI,
    layer_sizes: tuple[int, ...] = (64 * 1024, 512 * 1024, 2 * 1024 * 1024),
    platform: Platform | None = None,
) -> Image:
    """A runnable-looking image: one random tar.gz layer per size, a config with their diff_ids."""
    platform = platform or Platform()
    layers_and_diff_ids = [_tar_gz_layer(rng, size) for size in layer_sizes]
    layers = tuple(Blob(media_types.layer, data) for data, _ in layers_and_diff_ids)
    config = Blob(
        media_types.config,
        _encode(
            {
                "architecture": platform.architecture,
                "os": platform.os,
                "config": {"Cmd": ["/bin/true"]},
                "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers_and_diff_ids]},
                "history": [{"created_by": f"drift test layer {i}"} for i in range(len(layers))],
            }
        ),
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types.manifest,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return Image(Blob(media_types.manifest, _encode(manifest)), config, layers, platform)


def build_index(images: tuple[Image, ...]) -> ImageIndex:
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            image.manifest.descriptor(
                platform={"os": image.platform.os, "architecture": image.platform.architecture}
            )
            for image in images
        ],
    }
    return ImageIndex(Blob(OCI_INDEX, _encode(index)), images)


def build_artifact(
    subject: Blob,
    files: dict[str, bytes],
    *,
    artifact_type: str | None,
    config_media_type: str = OCI_EMPTY,
    file_media_type: str = "application/octet-stream",
    annotations: dict[str, str] | None = None,
) -> Image:
    """An OCI 1.1 artifact manifest referring to `subject`.

    With `artifact_type=None` the artifact is typed by its config media type only, the older
    convention that the referrers API must fall back to.
    """
    config = Blob(config_media_type, EMPTY_JSON)
    layers = tuple(Blob(file_media_type, data) for data in files.values())
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI.manifest}
    if artifact_type is not None:
        manifest["artifactType"] = artifact_type
    manifest["config"] = config.descriptor()
    manifest["layers"] = [
        layer.descriptor(annotations={"org.opencontainers.image.title": name})
        for name, layer in zip(files, layers, strict=True)
    ]
    manifest["subject"] = subject.descriptor()
    if annotations:
        manifest["annotations"] = annotations
    return Image(Blob(OCI.manifest, _encode(manifest)), config, layers, Platform())


def _tar_gz_layer(rng: random.Random, size: int) -> tuple[bytes, str]:
    """A gzip-compressed tar of one file of `size` random bytes, and its diff_id."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data/{rng.getrandbits(64):016x}.bin")
        info.size = size
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(rng.randbytes(size)))
    uncompressed = tar_bytes.getvalue()
    return gzip.compress(uncompressed, compresslevel=1, mtime=0), sha256_digest(uncompressed)


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=3).encode() + b"\n"
