"""Writing and reading the on-disk image formats skopeo copies from and to.

- OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/<alg>/<hex>`;
  skopeo addresses one entry as `oci:<dir>:<ref>` through `org.opencontainers.image.ref.name`.
- containers/image `dir:` layout: `manifest.json`, `version`, one file per blob named by the
  digest's hex (the only local format that keeps Docker media types unconverted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.images import Blob, sha256_digest

__all__ = [
    "LayoutContent",
    "read_dir_layout",
    "read_oci_layout",
    "write_dir_layout",
    "write_oci_layout",
]

REF_NAME = "org.opencontainers.image.ref.name"
DIR_VERSION = b"Directory Transport Version: 1.1\n"


@dataclass(frozen=True, slots=True)
class LayoutContent:
    """What a layout holds: its top manifest(s) and every blob, keyed by digest."""

    manifests: dict[str, dict[str, Any]]  # ref name -> descriptor ("" for a dir: layout)
    blobs: dict[str, bytes]

    def manifest_bytes(self, ref: str) -> bytes:
        return self.blobs[self.manifests[ref]["digest"]]


def write_oci_layout(path: Path, refs: dict[str, Blob], blobs: Iterable[Blob]) -> None:
    """An OCI layout whose `index.json` names each manifest or index of `refs` by its ref."""
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    for blob in (*refs.values(), *blobs):
        (path / "blobs" / "sha256" / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
    index = {
        "schemaVersion": 2,
        "manifests": [blob.descriptor(annotations={REF_NAME: ref}) for ref, blob in refs.items()],
    }
    (path / "index.json").write_text(json.dumps(index))


def read_oci_layout(path: Path) -> LayoutContent:
    index = json.loads((path / "index.json").read_text())
    manifests = {entry["annotations"][REF_NAME]: entry for entry in index["manifests"]}
    blobs = {
        f"{algorithm.name}:{blob.name}": blob.read_bytes()
        for algorithm in (path / "blobs").iterdir()
        for blob in algorithm.iterdir()
    }
    return LayoutContent(manifests, blobs)


def write_dir_layout(path: Path, manifest: Blob, blobs: Iterable[Blob]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "version").write_bytes(DIR_VERSION)
    (path / "manifest.json").write_bytes(manifest.data)
    for blob in blobs:
        (path / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)


def read_dir_layout(path: Path) -> LayoutContent:
    manifest = (path / "manifest.json").read_bytes()
    digest = sha256_digest(manifest)
    blobs = {
        f"sha256:{file.name}": file.read_bytes()
        for file in path.iterdir()
        if file.name not in {"version", "manifest.json"}
    }
    blobs[digest] = manifest
    media_type = json.loads(manifest).get("mediaType", "")
    return LayoutContent({"": {"mediaType": media_type, "digest": digest}}, blobs)
