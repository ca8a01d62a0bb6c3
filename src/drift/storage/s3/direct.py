"""Direct writes: a whole file streamed to its final key, published only at completion.

Bytes fill pooled part buffers (``buffers``); each full one is sent as an ``UploadPart`` (with
its CRC32) of a multipart upload at the final key, created with the first full part; with two
buffers of half a part, one fills while the other is sent. ``complete`` sends what is left and
issues ``CompleteMultipartUpload``, which makes the object appear whole and atomically; a file
shorter than one part is one ``PutObject`` at completion instead. ``abort`` aborts the
multipart upload, so nothing partial is ever visible; one that a crash left open is aborted by
the upload purge (``Copier.abort_stale_uploads``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from drift.storage.driver import DirectWriter, StorageError
from drift.storage.s3.buffers import BufferPool
from drift.storage.s3.copy import Copier
from drift.storage.s3.objects import Bucket

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

__all__ = ["S3DirectWriter"]


class S3DirectWriter(DirectWriter):
    """``slots`` buffers of ``buffers.size`` bytes, each sent as a part: with two, the next
    part fills while the previous one is sent (two half parts cost one part of memory)."""

    def __init__(
        self,
        bucket: Bucket,
        copier: Copier,
        buffers: BufferPool,
        key: str,
        path: str,
        *,
        slots: int = 1,
    ) -> None:
        self._bucket = bucket
        self._connection = bucket.connection
        self._copier = copier
        self._buffers = buffers
        self._key = key
        self._path = path
        self._slots: list[bytearray] = []
        self._slot_count = slots
        self._current = 0
        self._filled = 0
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._sending: asyncio.Task[None] | None = None
        self._done = False

    async def write(self, data: bytes | memoryview) -> None:
        if self._done:
            raise StorageError(f"direct writer of {self._path} is finished")
        view = memoryview(data).cast("B")
        part_size = self._buffers.size
        while view:
            buffer = self._buffer()
            count = min(len(view), part_size - self._filled)
            buffer[self._filled : self._filled + count] = view[:count]
            self._filled += count
            self._size += count
            view = view[count:]
            if self._filled == part_size:
                await self._sent()  # the slot to fill next is free again
                self._sending = asyncio.ensure_future(self._send_part(memoryview(buffer)))
                if self._slot_count == 1:
                    await self._sent()
                self._current = (self._current + 1) % self._slot_count
                self._filled = 0

    def _buffer(self) -> bytearray:
        while len(self._slots) <= self._current:
            self._slots.append(self._buffers.take())
        return self._slots[self._current]

    async def _sent(self) -> None:
        sending, self._sending = self._sending, None
        if sending is not None:
            await sending

    async def complete(self) -> None:
        if self._done:
            raise StorageError(f"direct writer of {self._path} is finished")
        await self._sent()
        rest = self._rest()
        if self._upload_id is None:
            await self._bucket.put(self._key, self._path, rest)
        else:
            if rest or not self._parts:
                await self._send_part(rest)
            client = await self._connection.client()
            timeout = self._connection.options.transfer_timeout(self._size)
            async with self._connection.call("write", self._path, timeout):
                await client.complete_multipart_upload(
                    Bucket=self._bucket.name,
                    Key=self._key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        self._done = True
        for buffer in self._slots:
            self._buffers.give(buffer)
        self._slots = []

    async def abort(self) -> None:
        self._done = True
        self._slots = []  # a failed send may still refer to them: not returned to the pool
        sending, self._sending = self._sending, None
        if sending is not None:
            sending.cancel()
            with contextlib.suppress(BaseException):
                await sending
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            await asyncio.shield(self._copier.abort_upload(self._key, upload_id))

    def _rest(self) -> memoryview:
        """What is held beyond the sent parts."""
        if not self._filled:
            return memoryview(b"")
        return memoryview(self._buffer())[: self._filled]

    async def _send_part(self, data: memoryview) -> None:
        if self._upload_id is None:
            client = await self._connection.client()
            async with self._connection.call("write", self._path):
                created = await client.create_multipart_upload(
                    Bucket=self._bucket.name, Key=self._key, ChecksumAlgorithm="CRC32"
                )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        part = await self._bucket.put_part(self._key, self._path, self._upload_id, number, data)
        self._parts.append(part)
