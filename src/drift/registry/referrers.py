"""The referrers of a subject (distribution-spec v1.1 "Listing Referrers"), derived from storage.

Referrers are not stored separately: they are the manifests of the repository whose ``subject``
is the digest asked for. The repository's revisions are listed and each manifest's subject and
descriptor are parsed once per process (manifests are content-addressed, so the result never goes
stale). This serves data written by registry:2 or any other tool unchanged, and a crash can never
leave a pushed manifest missing from its subject's referrers. Manifests that clients recorded with
the referrers tag schema (an ``<alg>-<hex>`` tag holding an index, written by clients that found
no referrers API) are included as well.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from drift.oci.digest import ALGORITHMS, Digest, parse_digest
from drift.oci.errors import RegistryError
from drift.oci.manifest import parse_manifest
from drift.storage import layout
from drift.storage.driver import PathNotFoundError, StorageDriver

__all__ = ["ReferrerIndex", "fallback_tag"]

_CACHE_ENTRIES: Final = 65536
ManifestReader = Callable[[Digest], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class _Summary:
    subject: Digest | None
    descriptor: dict[str, Any] | None  # None when the bytes are not a valid manifest
    entries: tuple[dict[str, Any], ...]  # children, for referrers-tag-schema indexes


def fallback_tag(subject: Digest) -> str:
    """The referrers tag schema: ``<alg>-<hex>`` truncated to the tag grammar's limits."""
    return f"{subject.algorithm[:32]}-{subject.hex[:64]}"


def _summarize(digest: Digest, body: bytes) -> _Summary:
    try:
        parsed = parse_manifest(body, "")
    except RegistryError:
        return _Summary(None, None, ())
    descriptor: dict[str, Any] = {
        "mediaType": parsed.media_type,
        "digest": str(digest),
        "size": len(body),
    }
    if parsed.artifact_type:
        descriptor["artifactType"] = parsed.artifact_type
    if parsed.annotations:
        descriptor["annotations"] = parsed.annotations
    entries = tuple(child.to_json() for child in parsed.children)
    return _Summary(parsed.subject_digest, descriptor, entries)


class ReferrerIndex:
    def __init__(self, driver: StorageDriver, read_manifest: ManifestReader) -> None:
        self._driver = driver
        self._read_manifest = read_manifest
        self._summaries: OrderedDict[Digest, _Summary] = OrderedDict()

    async def _summary(self, digest: Digest) -> _Summary | None:
        summary = self._summaries.get(digest)
        if summary is None:
            try:
                body = await self._read_manifest(digest)
            except (PathNotFoundError, RegistryError):
                return None  # deleted meanwhile, or a dangling revision link
            summary = self._summaries[digest] = _summarize(digest, body)
            while len(self._summaries) > _CACHE_ENTRIES:
                self._summaries.popitem(last=False)
        return summary

    async def _revisions(self, name: str) -> list[Digest]:
        root = layout.RepositoryPaths(name).revisions()
        found: list[Digest] = []
        for algorithm in ALGORITHMS:
            try:
                entries = await self._driver.list(f"{root}/{algorithm}")
            except PathNotFoundError:
                continue
            for entry in entries:
                with contextlib.suppress(RegistryError):  # not a revision: ignore stray entries
                    found.append(parse_digest(f"{algorithm}:{entry.rsplit('/', 1)[1]}"))
        return found

    async def referrers(
        self, name: str, subject: Digest, fallback: Digest | None
    ) -> list[dict[str, Any]]:
        """Descriptors of the manifests of ``name`` whose subject is ``subject``, by digest."""
        found: dict[str, dict[str, Any]] = {}
        for digest in await self._revisions(name):
            summary = await self._summary(digest)
            if summary is not None and summary.subject == subject and summary.descriptor:
                found[str(digest)] = summary.descriptor
        if fallback is not None:
            index = await self._summary(fallback)
            for entry in index.entries if index is not None else ():
                found.setdefault(entry["digest"], entry)
        return [found[key] for key in sorted(found)]
