"""Paths of CNCF distribution's v2 storage layout, to check what a registry really stored.

Layout (distribution `registry/storage/paths.go`), under `<root>/docker/registry/v2`:
`blobs/<alg>/<hex[:2]>/<hex>/data`, `repositories/<name>/_layers/<alg>/<hex>/link`,
`repositories/<name>/_manifests/revisions/<alg>/<hex>/link`,
`repositories/<name>/_manifests/tags/<tag>/current/link`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["V2", "blob_data", "layer_link", "read_link", "repository_dir", "tag_link"]

V2 = Path("docker/registry/v2")


def _split(digest: str) -> tuple[str, str]:
    algorithm, _, hex_digest = digest.partition(":")
    return algorithm, hex_digest


def blob_data(root: Path, digest: str) -> Path:
    algorithm, hex_digest = _split(digest)
    return root / V2 / "blobs" / algorithm / hex_digest[:2] / hex_digest / "data"


def repository_dir(root: Path, name: str) -> Path:
    return root / V2 / "repositories" / name


def layer_link(root: Path, name: str, digest: str) -> Path:
    algorithm, hex_digest = _split(digest)
    return repository_dir(root, name) / "_layers" / algorithm / hex_digest / "link"


def tag_link(root: Path, name: str, tag: str) -> Path:
    return repository_dir(root, name) / "_manifests" / "tags" / tag / "current" / "link"


def read_link(path: Path) -> str:
    return path.read_text().strip()
