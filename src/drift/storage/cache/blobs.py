"""The hybrid tier: a bounded local-disk cache of hot blobs in front of a remote store (S3).

A hit is a local file, which the HTTP/1.1 transport sends with sendfile. A miss of a whole blob
streams from the store to the client while a copy is written to a temporary file of the cache
(a tee): each chunk is written and hashed in the storage executor while the next one is fetched
and the previous one sent, and once the last byte passed the copy is checked against the digest
and renamed into place (``directory``). The copy is best-effort: a failing disk write stops the
copy, never the client's download. A client that goes away mid-blob (or an S3 read that fails)
discards the copy: nothing is completed in the background, so a fill costs no more than the
transfer that carries it and never outlives it.

Bounded by ``limit`` bytes, least recently used first: before a fill starts, older blobs are
evicted to make room for it. Blobs larger than the whole cache are not cached. Concurrent fills
of one blob in one process are coalesced (the second request streams without a copy); across
worker processes both copies complete and the second rename replaces the first, byte-identical.
With several fills running at once the cache may exceed ``limit`` by the blobs in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from drift.oci.digest import Digest
from drift.storage.cache.directory import CachedFile, CacheDirectory, Eviction, TempBlob
from drift.storage.executor import run_blocking

__all__ = ["BlobCache", "CacheStats"]

_log = logging.getLogger(__name__)

TOUCH_AFTER: Final = 1.0  # seconds: a blob used more often is not re-stamped on every hit


@dataclass(slots=True)
class CacheStats:
    """Counters of one process since it started (``bytes``: the last total it saw)."""

    hits: int = 0
    misses: int = 0
    fills: int = 0  # blobs copied into the cache
    fills_discarded: int = 0  # copies abandoned: client gone, S3 failure, disk error, bad digest
    filled_bytes: int = 0
    evictions: int = 0
    evicted_bytes: int = 0
    bytes: int = 0


class BlobCache:
    def __init__(self, root: Path, limit: int, *, touch_after: float = TOUCH_AFTER) -> None:
        self.directory = CacheDirectory(root)
        self.limit = limit
        self.touch_after = touch_after
        self.stats = CacheStats()
        self._filling: set[Digest] = set()

    def open(self) -> BlobCache:
        """Prepare the directory and enforce ``limit`` on what an earlier run left (blocking:
        called once at startup, before serving)."""
        self.directory.prepare()
        self._count(self.directory.evict(self.limit))
        return self

    async def lookup(self, digest: Digest) -> CachedFile | None:
        """The cached blob, or None; a cache that cannot be read is a miss, not a failure."""
        try:
            cached = await run_blocking(self.directory.lookup, digest, self.touch_after)
        except OSError as exc:
            _log.warning("blob cache: cannot look up %s: %s", digest, exc)
            cached = None
        if cached is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return cached

    async def forget(self, digest: Digest) -> None:
        """Drop a blob the store no longer has (garbage-collected elsewhere)."""
        try:
            await run_blocking(self.directory.remove, digest)
        except OSError as exc:
            _log.warning("blob cache: cannot remove %s: %s", digest, exc)

    def admits(self, size: int) -> bool:
        return size <= self.limit

    async def fill(
        self, digest: Digest, size: int, chunks: AsyncIterator[bytes]
    ) -> AsyncGenerator[bytes, None]:
        """``chunks`` (the whole blob, ``size`` bytes) passed through, copied into the cache."""
        if not self.admits(size) or digest in self._filling:
            async for chunk in chunks:
                yield chunk
            return
        self._filling.add(digest)
        sink: TempBlob | None = None
        # The blocking call in flight on the sink. Awaited shielded: a cancelled request must
        # not release the file descriptor while a thread still uses it (see ``_abandon``).
        pending: asyncio.Future[object] | None = None
        try:
            sink = await self._reserve(digest, size)
            async for chunk in chunks:
                if sink is not None and pending is not None:
                    sink = await self._settle(sink, pending)
                pending = None if sink is None else run_blocking(sink.write, chunk)
                yield chunk
            if sink is not None and pending is not None:
                sink = await self._settle(sink, pending)
            if sink is not None:
                pending = run_blocking(sink.commit, size)
                await self._published(sink, size, pending)
                sink = pending = None
        finally:
            self._filling.discard(digest)
            if sink is not None:
                self.stats.fills_discarded += 1
                _abandon(sink, pending)

    async def _reserve(self, digest: Digest, size: int) -> TempBlob | None:
        reserving = run_blocking(self.directory.reserve, digest, size, self.limit)
        try:
            sink, eviction = await asyncio.shield(reserving)
        except asyncio.CancelledError:
            reserving.add_done_callback(_discard_reserved)  # the temporary file it will make
            raise
        except OSError as exc:
            _log.warning("blob cache: cannot make room for %s, not caching it: %s", digest, exc)
            return None
        self._count(eviction)
        return sink

    async def _settle(self, sink: TempBlob, write: asyncio.Future[object]) -> TempBlob | None:
        """Wait for the write in flight; a failed write ends the copy (not the download)."""
        try:
            await asyncio.shield(write)
        except OSError as exc:
            _log.warning("blob cache: cannot write %s, not caching it: %s", sink.digest, exc)
            self.stats.fills_discarded += 1
            sink.discard()  # close, unlink: on the loop, so that no other call races with it
            return None
        return sink

    async def _published(self, sink: TempBlob, size: int, commit: asyncio.Future[object]) -> None:
        try:
            published = await asyncio.shield(commit)
        except OSError as exc:
            _log.warning("blob cache: cannot publish %s: %s", sink.digest, exc)
            self.stats.fills_discarded += 1
            return
        if not published:
            # The store returned other bytes than the digest names: never serve them again.
            _log.error("blob cache: %s read from storage does not match its digest", sink.digest)
            self.stats.fills_discarded += 1
            return
        self.stats.fills += 1
        self.stats.filled_bytes += size
        self.stats.bytes += size

    def _count(self, eviction: Eviction) -> None:
        self.stats.evictions += eviction.files
        self.stats.evicted_bytes += eviction.removed
        self.stats.bytes = eviction.remaining


def _discard_reserved(future: asyncio.Future[tuple[TempBlob, Eviction]]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result()[0].discard()


def _abandon(sink: TempBlob, pending: asyncio.Future[object] | None) -> None:
    """Discard a copy without awaiting (this runs in a generator being closed, maybe by the
    garbage collector): at once, or after the blocking call in flight, whose thread may still
    use the file descriptor. ``discard`` is two system calls (close, unlink)."""

    def discard(done: asyncio.Future[object]) -> None:
        if not done.cancelled():
            done.exception()  # retrieved: a failed call already ended this copy
        sink.discard()

    if pending is None:
        sink.discard()
    elif pending.done():
        discard(pending)
    else:
        pending.add_done_callback(discard)
