"""What the HTTP/3 benchmark moves: two random files and the blobs and images made of them.

``full`` is the blob size, ``eighth`` one eighth of it (the streams of an 8-stream pull, the
layers of the 8-layer image, the transfers of the small-blob memory phase). Drift gets, over
HTTPS before anything is timed, one blob of each file in ``REPO``, the image ``REPO:latest``
whose one layer is the full blob, and ``LAYERED_REPO:latest`` with 8 layers of an eighth each;
every blob is read back and its digest checked.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.blobs import Blob, BlobSource
from bench.registry_client import OCI_MANIFEST, RegistryClient

__all__ = ["LAYERED_REPO", "LAYERS", "REPO", "Content", "Image", "Sources", "make_sources"]

REPO: Final = "bench/h3"
LAYERED_REPO: Final = "bench/h3-layers"
LAYERS: Final = 8
_LAYER_TYPE: Final = "application/vnd.oci.image.layer.v1.tar"
_CONFIG_TYPE: Final = "application/vnd.oci.image.config.v1+json"


@dataclass(frozen=True, slots=True)
class Sources:
    full: BlobSource
    eighth: BlobSource


def make_sources(directory: Path, size: int) -> Sources:
    return Sources(
        BlobSource(directory / "full", size),
        BlobSource(directory / "eighth", max(size // LAYERS, 1)),
    )


@dataclass(frozen=True, slots=True)
class Image:
    repo: str
    manifest_digest: str
    size: int  # of its layers


@dataclass(frozen=True, slots=True)
class Content:
    sources: Sources
    blobs: dict[str, Blob]  # "full", "eighth": the pull targets in REPO
    single: Image
    layered: Image

    @classmethod
    def seed(cls, sources: Sources, client: RegistryClient, layered: RegistryClient) -> Content:
        blobs = {}
        for name in ("full", "eighth"):
            blob = getattr(sources, name).variant()
            client.push_monolithic(blob)
            client.verify_blob(blob)
            blobs[name] = blob
        seeded = client.seed_image(blobs["full"], 0)
        single = Image(REPO, _digest(seeded.manifest), blobs["full"].size)
        layers = [sources.eighth.variant() for _ in range(LAYERS)]
        for layer in layers:
            layered.push_monolithic(layer)
            layered.verify_blob(layer)
        return cls(sources, blobs, single, _push_image(layered, layers))


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _descriptor(media_type: str, digest: str, size: int) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def _push_image(client: RegistryClient, layers: list[Blob]) -> Image:
    diff_ids = [layer.digest for layer in layers]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(_CONFIG_TYPE, client.push_bytes(config), len(config)),
        "layers": [_descriptor(_LAYER_TYPE, layer.digest, layer.size) for layer in layers],
    }
    manifest = json.dumps(document).encode()
    reply = client.conn.request(
        "PUT", f"/v2/{client.repo}/manifests/latest", {"Content-Type": OCI_MANIFEST}, manifest
    )
    if reply.status != 201:
        raise RuntimeError(f"manifest PUT answered {reply.status}: {reply.body[:300]!r}")
    return Image(client.repo, _digest(manifest), sum(layer.size for layer in layers))
