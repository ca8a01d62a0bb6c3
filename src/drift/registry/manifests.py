"""Manifests: exact bytes stored as blobs, linked as revisions, reachable by tag or digest."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import orjson

from drift.events.model import NULL_SINK, EventKind, EventSink, RegistryEvent
from drift.oci import mediatypes as mt
from drift.oci.digest import Digest, parse_digest
from drift.oci.errors import ErrorCode, RegistryError
from drift.oci.manifest import Descriptor, ParsedManifest, parse_manifest
from drift.oci.names import is_digest_reference, validate_tag
from drift.registry.blobs import BlobStore
from drift.registry.links import read_link, write_link
from drift.registry.tags import Tags
from drift.storage import layout
from drift.storage.driver import PathNotFoundError, StorageDriver

__all__ = ["Manifests", "PutResult", "StoredManifest"]

_CACHE_ENTRIES: Final = 4096


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: Digest
    media_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class PutResult:
    digest: Digest
    subject: Digest | None
    tags: tuple[str, ...]


def _unknown(name: str, reference: str) -> RegistryError:
    return RegistryError(
        ErrorCode.MANIFEST_UNKNOWN,
        f"manifest {reference!r} unknown in repository {name!r}",
        detail={"name": name, "reference": reference},
    )


def _stored_media_type(body: bytes) -> str:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return mt.OCI_MANIFEST
    declared = document.get("mediaType") if isinstance(document, dict) else None
    if isinstance(declared, str) and declared:
        return declared
    return (
        mt.OCI_INDEX if isinstance(document, dict) and "manifests" in document else mt.OCI_MANIFEST
    )


def _event(
    kind: EventKind, name: str, stored: StoredManifest, tags: tuple[str, ...]
) -> RegistryEvent:
    return RegistryEvent(
        kind, name, str(stored.digest), stored.media_type, len(stored.body), tags=tags
    )


def _tag_set(name: str, tag: str, digest: Digest, previous: Digest | None) -> RegistryEvent:
    return RegistryEvent(
        EventKind.TAG_SET,
        name,
        str(digest),
        tags=(tag,),
        previous=str(previous) if previous is not None else None,
    )


class Manifests:
    def __init__(
        self, driver: StorageDriver, blobs: BlobStore, tags: Tags, events: EventSink = NULL_SINK
    ) -> None:
        self._driver = driver
        self._blobs = blobs
        self._tags = tags
        self._events = events
        # Content-addressed, hence immutable: safe to cache in every process and node.
        self._content: OrderedDict[Digest, StoredManifest] = OrderedDict()

    async def resolve(self, name: str, reference: str) -> Digest:
        if is_digest_reference(reference):
            return parse_digest(reference)
        validate_tag(reference)
        digest = await self._tags.get(name, reference)
        if digest is None:
            raise await self._missing(name, reference)
        return digest

    async def _missing(self, name: str, reference: str) -> RegistryError:
        if not await self._tags.repository_exists(name):
            return RegistryError(
                ErrorCode.NAME_UNKNOWN, f"repository {name!r} not known", detail={"name": name}
            )
        return _unknown(name, reference)

    async def fetch(self, name: str, reference: str) -> StoredManifest:
        """The manifest a tag or digest names in ``name``.

        A tag's link is trusted without reading the revision link too: deleting a manifest
        deletes its tags first (here and in distribution), so a live tag implies a revision.
        """
        if is_digest_reference(reference):
            stored = await self.get(name, parse_digest(reference))
        else:
            stored = await self.load(await self.resolve(name, reference))
        if self._events.wants(EventKind.MANIFEST_PULL):
            tags = () if is_digest_reference(reference) else (reference,)
            await self._events.emit(_event(EventKind.MANIFEST_PULL, name, stored, tags))
        return stored

    async def get(self, name: str, digest: Digest) -> StoredManifest:
        link = layout.RepositoryPaths(name).revision_link(digest)
        if await read_link(self._driver, link) != digest:
            raise await self._missing(name, str(digest))
        return await self.load(digest)

    async def load(self, digest: Digest) -> StoredManifest:
        """The manifest content by digest, whatever repository links it."""
        cached = self._content.get(digest)
        if cached is not None:
            self._content.move_to_end(digest)
            return cached
        try:
            body = await self._blobs.get(digest)
        except PathNotFoundError:
            raise _unknown("", str(digest)) from None
        stored = StoredManifest(digest, _stored_media_type(body), body)
        self._content[digest] = stored
        while len(self._content) > _CACHE_ENTRIES:
            self._content.popitem(last=False)
        return stored

    async def put(
        self, name: str, reference: str, body: bytes, content_type: str, extra_tags: list[str]
    ) -> PutResult:
        parsed = parse_manifest(body, content_type)
        tags = [validate_tag(tag) for tag in extra_tags]
        if is_digest_reference(reference):
            digest = parse_digest(reference)
            if Digest.of(body, digest.algorithm) != digest:
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID,
                    f"manifest content does not match digest {digest}",
                    detail={"digest": str(digest)},
                )
        else:
            tags.insert(0, validate_tag(reference))
            digest = Digest.of(body)
        await self._check_references(name, parsed)
        await self._blobs.put(digest, body)
        await write_link(self._driver, layout.RepositoryPaths(name).revision_link(digest), digest)
        tag_events = self._events.wants(EventKind.TAG_SET)
        moved: list[RegistryEvent] = []
        for tag in dict.fromkeys(tags):
            previous = await self._tags.get(name, tag) if tag_events else None
            await self._tags.set(name, tag, digest)
            if tag_events and previous != digest:
                moved.append(_tag_set(name, tag, digest, previous))
        stored = StoredManifest(digest, parsed.media_type, body)
        await self._events.emit(
            _event(EventKind.MANIFEST_PUSH, name, stored, tuple(dict.fromkeys(tags)))
        )
        for event in moved:
            await self._events.emit(event)
        subject = parsed.subject.digest if parsed.subject is not None else None
        return PutResult(digest, subject, tuple(dict.fromkeys(extra_tags)))

    async def _check_references(self, name: str, parsed: ParsedManifest) -> None:
        missing: list[str] = []
        for blob in parsed.required_blobs:
            if not await self._blob_present(name, blob):
                missing.append(str(blob.digest))
        for child in parsed.children:
            link = layout.RepositoryPaths(name).revision_link(child.digest)
            if await read_link(self._driver, link) != child.digest:
                missing.append(str(child.digest))
        if missing:
            raise RegistryError(
                ErrorCode.MANIFEST_BLOB_UNKNOWN,
                f"manifest references content unknown to repository {name!r}: "
                + ", ".join(missing),
                detail={"digests": missing},
            )

    async def _blob_present(self, name: str, blob: Descriptor) -> bool:
        if not await self._blobs.is_linked(name, blob.digest):
            return False
        size = await self._blobs.size(blob.digest)
        if size is None:
            return False
        if size != blob.size:
            raise RegistryError(
                ErrorCode.MANIFEST_INVALID,
                f"descriptor of {blob.digest} says size {blob.size}, the blob has {size} bytes",
            )
        return True

    async def delete(self, name: str, reference: str) -> None:
        """By tag: remove only the tag. By digest: the revision and every tag pointing at it."""
        if not is_digest_reference(reference):
            validate_tag(reference)
            target = await self._tags.get(name, reference)
            if not await self._tags.delete(name, reference):
                raise await self._missing(name, reference)
            await self._events.emit(
                RegistryEvent(
                    EventKind.TAG_DELETE,
                    name,
                    str(target) if target is not None else None,
                    tags=(reference,),
                )
            )
            return
        digest = parse_digest(reference)
        stored = await self.get(name, digest)
        removed = await self._tags.pointing_at(name, digest)
        for tag in removed:
            await self._tags.delete(name, tag)
        revision = layout.RepositoryPaths(name).revision_link(digest)
        try:
            await self._driver.delete(revision.rsplit("/", 1)[0])
        except PathNotFoundError:
            raise _unknown(name, reference) from None
        await self._events.emit(_event(EventKind.MANIFEST_DELETE, name, stored, tuple(removed)))
