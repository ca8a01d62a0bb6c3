"""OCI vocabulary for the tests: media types, digests, the spec's grammar, manifest builders.

The grammar is copied from the specifications, not from Drift: distribution-spec v1.1
("Pulling manifests": ``<name>`` and tag regexes) and image-spec v1.1 descriptor.md ("Digests").
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "DIGEST_GRAMMAR",
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "DOCKER_SCHEMA1",
    "DOCKER_SCHEMA1_SIGNED",
    "NAME_GRAMMAR",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "OCI_NONDISTRIBUTABLE_LAYER",
    "SUPPORTED_DIGEST",
    "TAG_GRAMMAR",
    "descriptor",
    "digest_of",
    "image_manifest",
    "index_manifest",
    "platform",
    "random_bytes",
]

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_NONDISTRIBUTABLE_LAYER: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1: Final = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED: Final = "application/vnd.docker.distribution.manifest.v1+prettyjws"

NAME_GRAMMAR: Final = re.compile(
    r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*"
)
TAG_GRAMMAR: Final = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# image-spec descriptor.md: the general digest grammar ...
DIGEST_GRAMMAR: Final = re.compile(r"[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# ... and the registered algorithms the issue requires (lower-case hex of the exact length).
SUPPORTED_DIGEST: Final = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def random_bytes(size: int, seed: int | str) -> bytes:
    """Reproducible incompressible content (a failing test can be replayed byte for byte)."""
    return random.Random(seed).randbytes(size)


def descriptor(
    media_type: str, data: bytes, *, algorithm: str = "sha256", **extra: Any
) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": digest_of(data, algorithm),
        "size": len(data),
        **extra,
    }


def platform(architecture: str, os: str = "linux") -> dict[str, str]:
    return {"architecture": architecture, "os": os}


def _optional_fields(
    subject: Mapping[str, Any] | None,
    artifact_type: str | None,
    annotations: Mapping[str, str] | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if artifact_type is not None:
        fields["artifactType"] = artifact_type
    if subject is not None:
        fields["subject"] = dict(subject)
    if annotations is not None:
        fields["annotations"] = dict(annotations)
    return fields


def image_manifest(
    config: Mapping[str, Any],
    layers: Sequence[Mapping[str, Any]],
    *,
    media_type: str = OCI_MANIFEST,
    subject: Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    content = {"config": dict(config), "layers": [dict(layer) for layer in layers]}
    return _document(media_type, content, subject, artifact_type, annotations)


def index_manifest(
    manifests: Sequence[Mapping[str, Any]],
    *,
    media_type: str = OCI_INDEX,
    subject: Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    content = {"manifests": [dict(item) for item in manifests]}
    return _document(media_type, content, subject, artifact_type, annotations)


def _document(
    media_type: str,
    content: dict[str, Any],
    subject: Mapping[str, Any] | None,
    artifact_type: str | None,
    annotations: Mapping[str, str] | None,
) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        **content,
        **_optional_fields(subject, artifact_type, annotations),
    }
    return json.dumps(document, indent=2).encode()
