"""Blobs: the global content-addressed store and each repository's view of it.

A blob belongs to a repository when the repository links it, as a layer (``_layers``) or as a
manifest revision; data is stored once under ``blobs/`` whatever the number of repositories.

Where a blob's bytes come from, best first: a local file (the filesystem driver, or a hit of
the hybrid tier's ``BlobCache``) sent with sendfile; with the cache on, a stream from storage
that fills the cache on the way; with a driver that offers one (S3 with ``redirect`` on and no
cache), a presigned URL the client fetches itself; else a stream from storage. Storage stays
the authority even for cached blobs: its ``stat`` says whether the blob exists (a blob garbage-
collected by another node is not served from a cache), the cache only saves the data transfer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from drift.events.model import NULL_SINK, EventKind, EventSink, RegistryEvent
from drift.oci.digest import Digest
from drift.oci.errors import ErrorCode, RegistryError
from drift.registry.links import read_link, write_link
from drift.storage import layout
from drift.storage.cache import BlobCache
from drift.storage.driver import PathNotFoundError, StorageDriver

__all__ = ["BlobLocation", "BlobStore"]


@dataclass(frozen=True, slots=True)
class BlobLocation:
    digest: Digest
    size: int
    local_path: str | None  # for sendfile
    storage_path: str


class BlobStore:
    def __init__(
        self, driver: StorageDriver, events: EventSink = NULL_SINK, cache: BlobCache | None = None
    ) -> None:
        self.driver = driver
        self.events = events
        self.cache = cache

    async def size(self, digest: Digest) -> int | None:
        try:
            return (await self.driver.stat(layout.blob_data(digest))).size
        except PathNotFoundError:
            return None

    async def get(self, digest: Digest) -> bytes:
        return await self.driver.get_content(layout.blob_data(digest))

    async def put(self, digest: Digest, data: bytes) -> None:
        """Store small content (manifests) atomically, once."""
        if await self.size(digest) is None:
            await self.driver.put_content(layout.blob_data(digest), data)

    async def ingest(self, upload_data: str, digest: Digest) -> None:
        """Move verified, durable upload data into place; identical blobs are stored once."""
        if await self.size(digest) is None:
            await self.driver.move(upload_data, layout.blob_data(digest))
        else:
            await self.driver.delete(upload_data)

    # -- repository view -------------------------------------------------------------------

    async def is_linked(self, name: str, digest: Digest) -> bool:
        paths = layout.RepositoryPaths(name)
        for link in (paths.layer_link(digest), paths.revision_link(digest)):
            if await read_link(self.driver, link) == digest:
                return True
        return False

    async def locate(self, name: str, digest: Digest, *, read: bool = True) -> BlobLocation:
        """The blob as ``name`` sees it; BLOB_UNKNOWN unless linked there and present.

        ``read=False`` (a HEAD) only needs the size: the cache is not consulted."""
        if not await self.is_linked(name, digest):
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})
        path = layout.blob_data(digest)
        local = self.driver.local_path(path)
        if self.cache is None or not read or local is not None:
            size = await self.size(digest)
        else:
            size, cached = await asyncio.gather(self.size(digest), self.cache.lookup(digest))
            if cached is not None and cached.size == size:
                local = cached.path
            elif cached is not None:  # gone from storage, or not what storage holds
                await self.cache.forget(digest)
        if size is None:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})
        if self.events.wants(EventKind.BLOB_PULL):
            await self.events.emit(RegistryEvent(EventKind.BLOB_PULL, name, str(digest), size=size))
        return BlobLocation(digest, size, local, path)

    async def redirect_url(self, blob: BlobLocation) -> str | None:
        """A URL the client may fetch ``blob`` from itself (presigned), when that is best: not
        for a local file, and not with the cache on, which serves through to fill itself."""
        if blob.local_path is not None or self.cache is not None:
            return None
        return await self.driver.redirect_url(blob.storage_path)

    def read(self, blob: BlobLocation, offset: int, length: int) -> AsyncIterator[bytes]:
        """``length`` bytes of a blob from ``offset``, from storage; a read of the whole blob
        fills the cache on the way."""
        chunks = self.driver.read_stream(blob.storage_path, offset, length)
        cache = self.cache
        if cache is None or offset != 0 or length != blob.size:
            return chunks
        return cache.fill(blob.digest, blob.size, chunks)

    async def link_layer(self, name: str, digest: Digest) -> None:
        await write_link(self.driver, layout.RepositoryPaths(name).layer_link(digest), digest)

    async def unlink_layer(self, name: str, digest: Digest) -> None:
        link = layout.RepositoryPaths(name).layer_link(digest)
        try:
            await self.driver.delete(link.rsplit("/", 1)[0])
        except PathNotFoundError:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)}) from None
        await self.events.emit(RegistryEvent(EventKind.BLOB_DELETE, name, str(digest)))

    async def mount(self, name: str, source: str, digest: Digest) -> bool:
        """Cross-repository mount: link ``source``'s blob into ``name`` when it is there."""
        size = await self.size(digest) if await self.is_linked(source, digest) else None
        if size is None:
            return False
        await self.link_layer(name, digest)
        await self.events.emit(
            RegistryEvent(EventKind.BLOB_MOUNT, name, str(digest), size=size, source=source)
        )
        return True
