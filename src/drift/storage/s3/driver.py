"""The S3 storage driver (``storage.backend = "s3"``): distribution's layout in a bucket.

Directories are key prefixes: ``list`` asks with ``Delimiter="/"``, ``stat`` of a directory
looks for any key below it, ``delete`` of a directory deletes every key below it, ``walk`` lists
once without delimiter (``walk``). ``put_content`` is one PutObject and ``move`` a server-side
copy then a delete (``copy``), both atomic at the destination. A file written through a
``FileWriter`` is a series of segments until ``move`` assembles it (``writer``, ``files``).
``direct_writer`` streams a file whose content is known up front (a blob) straight into a
multipart upload at its key (``direct``). Every failure is a ``StorageError`` (``client``),
which the registry answers with 503.
With ``redirect`` on, ``redirect_url`` offers presigned URLs (``presign``) for blob GETs;
blob bytes that pass through Drift are presigned GETs too, of its own client (``fetch``).
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from drift.storage.driver import (
    DirectWriter,
    FileInfo,
    FileWriter,
    PathNotFoundError,
    StorageDriver,
    StorageError,
)
from drift.storage.pathcheck import ROOT, check_dir_path, check_file_path
from drift.storage.s3.buffers import BufferPool
from drift.storage.s3.client import ClientOptions, S3Connection
from drift.storage.s3.copy import Copier, CopyOptions
from drift.storage.s3.direct import S3DirectWriter
from drift.storage.s3.fetch import Fetcher
from drift.storage.s3.files import Files, StoredFile
from drift.storage.s3.keys import KeyMap, segmented_file_name
from drift.storage.s3.objects import Bucket, ObjectInfo, RangeReader
from drift.storage.s3.presign import Presigner
from drift.storage.s3.segments import MAX_PARTS, MIN_PART_SIZE
from drift.storage.s3.walk import walk_listing
from drift.storage.s3.writer import S3Writer, WriterLocks, WriterSettings

if TYPE_CHECKING:
    from drift.config.settings import S3Settings

__all__ = ["S3Driver"]

_log = logging.getLogger(__name__)

_EPOCH: Final = dt.datetime.fromtimestamp(0, tz=dt.UTC)


class S3Driver(StorageDriver):
    """A ``StorageDriver`` on an S3 bucket (AWS S3, MinIO, SeaweedFS, Ceph RGW...)."""

    name = "s3"
    min_chunk_length = MIN_PART_SIZE  # a chunk below it is held until more arrives

    def __init__(
        self,
        settings: S3Settings,
        *,
        client: ClientOptions | None = None,
        copy: CopyOptions | None = None,
    ) -> None:
        if not settings.bucket:
            raise ValueError("an S3 bucket is required")
        options = client or ClientOptions()
        self.connection = S3Connection(settings, options)
        # redirect = false: blobs stream through Drift, redirect_url offers no URL
        self.presigner = Presigner(settings, options) if settings.redirect else None
        # reads of blob bytes: URLs for the endpoint Drift itself reaches
        if self.presigner is not None and not settings.public_endpoint:
            self._read_signer = self.presigner
        else:
            self._read_signer = Presigner(replace(settings, public_endpoint=""), options)
        self.keys = KeyMap(settings.root_directory)
        self.bucket = Bucket(self.connection, self._read_signer, Fetcher(options))
        self.copier = Copier(self.bucket, copy or CopyOptions())
        self.files = Files(self.bucket, self.keys)
        self._writer_settings = WriterSettings(max(settings.part_size, MIN_PART_SIZE))
        self._buffers = BufferPool(self._writer_settings.part_size)
        self._halves = BufferPool(self._writer_settings.part_size // 2, keep=8)
        self._locks = WriterLocks()

    async def get_content(self, path: str) -> bytes:
        data = await self.bucket.get_bytes(self.keys.key(path), path)
        if data is not None:
            return data
        readers = await self._segment_readers(path, 0, None)
        return b"".join([chunk async for chunk in _concatenated(readers, 1 << 20)])

    async def put_content(self, path: str, data: bytes) -> None:
        await self.bucket.put(self.keys.key(path), path, data)

    async def read_stream(
        self, path: str, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        if offset < 0 or (length is not None and length < 0) or chunk_size <= 0:
            raise ValueError("offset and length must be >= 0, chunk_size > 0")
        key = self.keys.key(path)
        if length == 0:
            await self._existing(path)
            return
        end = None if length is None else offset + length
        opened = await self.bucket.open_range(key, path, offset, end)  # a plain object: one GET
        readers = [opened[0]] if opened else await self._segment_readers(path, offset, end)
        async for chunk in _concatenated(readers, chunk_size):
            yield chunk

    async def writer(self, path: str, append: bool) -> FileWriter:
        check_file_path(path)
        self._locks.acquire(path)
        try:
            if append:
                stored = await self.files.find_resumed(path)
                if stored is None:
                    raise PathNotFoundError(path)
            else:  # the file exists, empty, from now on: a plain object (it hides old segments)
                key = self.keys.key(path)
                await self.bucket.put(key, path, b"")
                await self.files.remove_segments(path)
                stored = StoredFile(key, ObjectInfo(0, dt.datetime.now(dt.UTC), ""), None)
            return S3Writer(
                self.files,
                self.copier,
                self._writer_settings,
                self._buffers,
                path,
                stored=stored,
                release=lambda: self._locks.release(path),
            )
        except BaseException:
            self._locks.release(path)
            raise

    def direct_writer(self, path: str, size: int | None = None) -> DirectWriter:
        """A multipart upload at the final key (``direct``): no segments, no copy. With the
        size known and small enough for ``MAX_PARTS`` half parts, the writer sends a half part
        while the next one fills (same memory, reading and sending overlap)."""
        check_file_path(path)
        key = self.keys.key(path)
        half = self._halves.size
        if half >= MIN_PART_SIZE and size is not None and size <= half * (MAX_PARTS - 1):
            return S3DirectWriter(
                self.bucket,
                self.copier,
                self._halves,
                key,
                path,
                slots=2,
                size=size,
                streaming=self._writer_settings.streaming,
            )
        return S3DirectWriter(self.bucket, self.copier, self._buffers, key, path)

    async def stat(self, path: str) -> FileInfo:
        if check_dir_path(path) == ROOT:
            return FileInfo(ROOT, 0, _EPOCH, True)
        key = self.keys.key(path)
        plain = await self.bucket.head(key, path)
        if plain is not None:
            return FileInfo(path, plain.size, plain.modified, False)
        segmented, below = await asyncio.gather(
            self.files.segments(path), self.bucket.first_below(self.keys.dir_prefix(path), path)
        )
        if segmented is not None:
            return FileInfo(path, segmented.size, segmented.modified, False)
        if below is None:
            raise PathNotFoundError(path)
        return FileInfo(path, 0, below.modified, True)

    async def list(self, path: str) -> builtins.list[str]:
        prefix = self.keys.dir_prefix(path)
        objects, prefixes = await self.bucket.list_children(prefix, path)
        names = {item.key[len(prefix) :] for item in objects}
        for common in prefixes:
            name = common[len(prefix) : -1]
            names.add(segmented_file_name(name) or name)
        names.discard("")
        if not names and path != ROOT:
            raise PathNotFoundError(path)
        parent = "" if path == ROOT else path
        return sorted(f"{parent}/{name}" for name in names)

    async def move(self, source: str, dest: str) -> None:
        dest_key = self.keys.key(dest)
        stored = await self._existing(source)
        if dest == source:
            return
        if stored.plain is not None:
            await self.copier.copy([(stored.key, stored.plain.size)], dest_key, source)
            await self.bucket.delete([stored.key], source)
            return
        assert stored.segmented is not None
        merged = await self.copier.assemble(
            stored.segmented.segments,
            dest_key,
            source,
            lambda start, end: self.keys.segment_key(source, start, end),
        )
        prefix = self.keys.segments_prefix(source)
        await self.files.remove_below(prefix, [*stored.segmented.keys, *merged], source)

    async def delete(self, path: str) -> None:
        prefix = self.keys.dir_prefix(check_file_path(path))
        removed, below = await asyncio.gather(
            self.files.remove_file(path), self.bucket.list_all(prefix, path)
        )
        await self.files.remove_below(prefix, [item.key for item in below], path)
        if not removed and not below:
            raise PathNotFoundError(path)

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        prefix = self.keys.dir_prefix(path)
        found = False
        listing = walk_listing(self.bucket.list_objects(prefix, path), prefix, path)
        async with aclosing(listing):
            async for info in listing:
                found = True
                yield info
        if not found and path != ROOT:
            raise PathNotFoundError(path)

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        if self.presigner is None:
            return None
        return await self.presigner.url(self.keys.key(path), method)

    async def purge_incomplete(self, older_than: dt.timedelta) -> int:
        """Abort multipart uploads (of ``move``) that a crash left open for ``older_than``."""
        return await self.copier.abort_stale_uploads(self.keys.prefix, older_than)

    async def prepare(self) -> None:
        """Create the S3 client (and the presigning ones) now: about 80 ms each of loading
        botocore's models, which the first request of every worker would otherwise pay. A
        client that cannot be made is left to the first request to report."""
        try:
            await self.connection.client()
            for signer in self._signers():
                await signer.prepare()
        except StorageError as exc:
            _log.warning("S3 client not prepared at start-up: %s", exc)

    async def close(self) -> None:
        self.bucket.close()
        await self.connection.close()
        for signer in self._signers():
            await signer.close()

    def _signers(self) -> builtins.list[Presigner]:
        signers = [self._read_signer]
        if self.presigner is not None and self.presigner is not self._read_signer:
            signers.append(self.presigner)
        return signers

    async def _existing(self, path: str) -> StoredFile:
        stored = await self.files.find(path)
        if stored is None:
            raise PathNotFoundError(path)
        return stored

    async def _segment_readers(
        self, path: str, offset: int, end: int | None
    ) -> builtins.list[RangeReader]:
        segmented = await self.files.segments(path)
        if segmented is None:
            raise PathNotFoundError(path)
        stop = segmented.size if end is None else min(end, segmented.size)
        return [
            self.bucket.range_reader(
                segment.key,
                path,
                max(offset, segment.start) - segment.start,
                min(stop, segment.end) - segment.start,
            )
            for segment in segmented.segments
            if segment.end > offset and segment.start < stop
        ]


async def _concatenated(
    readers: builtins.list[RangeReader], chunk_size: int
) -> AsyncIterator[bytes]:
    """The readers' bytes one after the other, in chunks of at most ``chunk_size`` as they
    arrive: no copy beyond the one the HTTP client makes."""
    for reader in readers:
        async with aclosing(reader.chunks(chunk_size)) as pieces:
            async for piece in pieces:
                yield piece
