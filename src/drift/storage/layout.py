"""Paths of CNCF distribution's v2 storage layout, so registry:2 data is served unchanged.

::

    /docker/registry/v2/blobs/<alg>/<hex[:2]>/<hex>/data
    /docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
    /docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
    /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
    /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
    /docker/registry/v2/repositories/<name>/_uploads/<uuid>/{data,startedat}

Drift writes nothing else: derived views (catalog, referrers) are computed from these paths.
Callers pass names, tags and digests that were validated by ``drift.oci``.
"""

from __future__ import annotations

from typing import Final

from drift.oci.digest import Digest

__all__ = ["ROOT", "RepositoryPaths", "blob_data", "repositories_root"]

ROOT: Final = "/docker/registry/v2"


def blob_data(digest: Digest) -> str:
    return f"{ROOT}/blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}/data"


def repositories_root() -> str:
    return f"{ROOT}/repositories"


class RepositoryPaths:
    __slots__ = ("root",)

    def __init__(self, name: str) -> None:
        self.root = f"{ROOT}/repositories/{name}"

    def layer_link(self, digest: Digest) -> str:
        return f"{self.root}/_layers/{digest.algorithm}/{digest.hex}/link"

    def revisions(self) -> str:
        return f"{self.root}/_manifests/revisions"

    def revision_link(self, digest: Digest) -> str:
        return f"{self.root}/_manifests/revisions/{digest.algorithm}/{digest.hex}/link"

    def tags(self) -> str:
        return f"{self.root}/_manifests/tags"

    def tag(self, tag: str) -> str:
        return f"{self.root}/_manifests/tags/{tag}"

    def tag_current_link(self, tag: str) -> str:
        return f"{self.tag(tag)}/current/link"

    def tag_index_link(self, tag: str, digest: Digest) -> str:
        return f"{self.tag(tag)}/index/{digest.algorithm}/{digest.hex}/link"

    def uploads(self) -> str:
        return f"{self.root}/_uploads"

    def upload(self, uuid: str) -> str:
        return f"{self.root}/_uploads/{uuid}"

    def upload_data(self, uuid: str) -> str:
        return f"{self.upload(uuid)}/data"

    def upload_started_at(self, uuid: str) -> str:
        return f"{self.upload(uuid)}/startedat"
