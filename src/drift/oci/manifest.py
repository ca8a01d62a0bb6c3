"""Parsing and structural validation of pushed manifests.

The stored bytes are always exactly what the client sent; this module only reads them to find the
media type, the blobs and child manifests they reference, the ``subject`` and what the
referrers API reports (image-spec v1.1 "Image Manifest", "Image Index"; distribution-spec
"Pushing Manifests").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from drift.oci import mediatypes as mt
from drift.oci.digest import Digest, parse_digest
from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["MAX_MANIFEST_BYTES", "Descriptor", "ParsedManifest", "parse_manifest"]

MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
# Content types that say nothing about the manifest kind; the body's mediaType decides.
_GENERIC_CONTENT_TYPES: Final = frozenset({"", "application/json", "application/octet-stream"})


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    foreign: bool = False  # non-distributable or carrying ``urls``: need not exist in the registry

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        return out


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    blobs: tuple[Descriptor, ...]  # config and layers
    children: tuple[Descriptor, ...]  # manifests of an index
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str] | None

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEX_TYPES

    @property
    def subject_digest(self) -> Digest | None:
        return self.subject.digest if self.subject is not None else None

    @property
    def required_blobs(self) -> tuple[Descriptor, ...]:
        return tuple(d for d in self.blobs if not d.foreign)


def _invalid(message: str, detail: Any = None) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_INVALID, message, detail=detail)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where}: a descriptor must be a JSON object")
    media_type = value.get("mediaType")
    digest = value.get("digest")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}: mediaType must be a non-empty string")
    if not isinstance(digest, str):
        raise _invalid(f"{where}: digest must be a string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: size must be a non-negative integer")
    try:
        parsed = parse_digest(digest)
    except RegistryError as exc:
        raise _invalid(f"{where}: {exc.message}") from None
    artifact_type = value.get("artifactType")
    annotations = value.get("annotations")
    urls = value.get("urls")
    return Descriptor(
        media_type=media_type,
        digest=parsed,
        size=size,
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        annotations=_string_map(annotations, f"{where}.annotations"),
        foreign=media_type in mt.NON_DISTRIBUTABLE_LAYER_TYPES or bool(urls),
    )


def _string_map(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _invalid(f"{where} must be an object of strings")
    return value


def _descriptor_list(document: dict[str, Any], key: str) -> tuple[Descriptor, ...]:
    value = document.get(key)
    if not isinstance(value, list):
        raise _invalid(f"{key} must be a list of descriptors")
    return tuple(_descriptor(item, f"{key}[{i}]") for i, item in enumerate(value))


def _media_type(document: dict[str, Any], content_type: str) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    content_type = content_type.split(";", 1)[0].strip().lower()
    if declared in mt.DOCKER_SCHEMA1_TYPES or content_type in mt.DOCKER_SCHEMA1_TYPES:
        raise _schema1()
    if declared and content_type not in _GENERIC_CONTENT_TYPES and declared != content_type:
        raise _invalid(
            f"mediaType {declared!r} in the manifest does not match Content-Type {content_type!r}"
        )
    media_type = declared or (content_type if content_type not in _GENERIC_CONTENT_TYPES else "")
    if not media_type:
        media_type = mt.OCI_INDEX if "manifests" in document else mt.OCI_MANIFEST
    if media_type not in mt.MANIFEST_TYPES:
        raise _invalid(
            f"unsupported manifest media type {media_type!r}; supported: "
            + ", ".join(sorted(mt.MANIFEST_TYPES))
        )
    return media_type


def _schema1() -> RegistryError:
    return _invalid(
        "Docker schema 1 manifests are not supported (deprecated since 2017); "
        "push the image with a client that writes Docker schema 2 or OCI manifests"
    )


def parse_manifest(body: bytes, content_type: str) -> ParsedManifest:
    if len(body) > MAX_MANIFEST_BYTES:
        raise RegistryError(
            ErrorCode.MANIFEST_INVALID,
            f"manifest is larger than the {MAX_MANIFEST_BYTES} byte limit",
            status=413,
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _invalid(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _invalid("manifest must be a JSON object")
    if document.get("schemaVersion") == 1:
        raise _schema1()
    media_type = _media_type(document, content_type)
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    subject = document.get("subject")
    annotations = _string_map(document.get("annotations"), "annotations")
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    if media_type in mt.INDEX_TYPES:
        return ParsedManifest(
            media_type=media_type,
            blobs=(),
            children=_descriptor_list(document, "manifests"),
            subject=_descriptor(subject, "subject") if subject is not None else None,
            artifact_type=artifact_type,
            annotations=annotations,
        )
    if "config" not in document:
        raise _invalid("an image manifest needs a config descriptor")
    config = _descriptor(document["config"], "config")
    layers = _descriptor_list(document, "layers")
    return ParsedManifest(
        media_type=media_type,
        blobs=(config, *layers),
        children=(),
        subject=_descriptor(subject, "subject") if subject is not None else None,
        # image-spec: artifactType falls back to the config media type for referrers.
        artifact_type=artifact_type or config.media_type,
        annotations=annotations,
    )
