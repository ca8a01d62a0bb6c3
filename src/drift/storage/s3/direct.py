"""Direct writes: a whole file streamed to its final key, published only at completion.

Bytes fill pooled part buffers (``buffers``); each full one is sent as an ``UploadPart`` (with
its CRC32) of a multipart upload at the final key, created with the first full part; with two
buffers of half a part, one fills while the other is sent. When the file's size is known (a
PUT with a Content-Length), each part is streamed while it fills (``stream``, as an upload's
segments): S3 takes a part as it arrives and stores it while the next one comes, instead of
receiving it only once it is full; a part whose streamed request fails is sent again from its
buffer, which is reused only after. ``complete`` sends what is left and
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
from drift.storage.s3.buffers import BufferPool, StreamedBody, part_checksum
from drift.storage.s3.copy import Copier
from drift.storage.s3.objects import Bucket
from drift.storage.s3.stream import SegmentStream, StreamingSwitch

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

__all__ = ["S3DirectWriter"]


class S3DirectWriter(DirectWriter):
    """``slots`` buffers of ``buffers.size`` bytes, each sent as a part: with two, the next
    part fills while the previous one is sent (two half parts cost one part of memory). Told
    the file's ``size``, it streams each part while it fills (``stream``): S3 receives a part
    as it arrives and stores it while the next one comes."""

    def __init__(
        self,
        bucket: Bucket,
        copier: Copier,
        buffers: BufferPool,
        key: str,
        path: str,
        *,
        slots: int = 1,
        size: int | None = None,
        streaming: StreamingSwitch | None = None,
    ) -> None:
        self._bucket = bucket
        self._connection = bucket.connection
        self._copier = copier
        self._buffers = buffers
        self._key = key
        self._path = path
        self._slots: list[bytearray] = []
        self._slot_count = slots
        self._sends: list[asyncio.Future[CompletedPartTypeDef] | None] = [None] * slots
        self._current = 0
        self._filled = 0
        self._size = 0
        self._expected = size  # the file's size, when told
        self._streaming = streaming
        self._stream: SegmentStream | None = None  # the part streamed from the current slot
        self._streamed: dict[int, CompletedPartTypeDef] = {}  # parts S3 took while streamed
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._done = False

    async def write(self, data: bytes | memoryview) -> None:
        if self._done:
            raise StorageError(f"direct writer of {self._path} is finished")
        view = memoryview(data).cast("B")
        part_size = self._buffers.size
        while view:
            if not self._filled:
                await self._begin_part()
            buffer = self._buffer()
            count = min(len(view), part_size - self._filled)
            buffer[self._filled : self._filled + count] = view[:count]
            self._filled += count
            self._size += count
            view = view[count:]
            if self._stream is not None:
                self._stream.body.filled(self._filled)
            if self._filled == part_size:
                await self._end_part()

    def _buffer(self) -> bytearray:
        while len(self._slots) <= self._current:
            self._slots.append(self._buffers.take())
        return self._slots[self._current]

    async def _begin_part(self) -> None:
        """The current slot is free once the part it held last is stored; the part it holds
        next is streamed when its length is known."""
        sending, self._sends[self._current] = self._sends[self._current], None
        if sending is not None:
            self._parts.append(await sending)
        length = self._announced_length()
        if length is None:
            return
        await self._ensure_upload()
        assert self._upload_id is not None
        upload_id, number = self._upload_id, self._number()
        body = StreamedBody(self._buffer(), length, 0)

        async def send(body: StreamedBody) -> None:
            self._streamed[number] = await self._bucket.put_part_stream(
                self._key, self._path, upload_id, number, body
            )

        assert self._streaming is not None
        self._stream = SegmentStream(
            self._key, self._size + length, body, send=send, switch=self._streaming
        )

    def _announced_length(self) -> int | None:
        """The length of the part that starts now, when it is streamed: the file's size is
        known and it takes more than one part (a shorter file is one PutObject)."""
        if self._expected is None or self._streaming is None or not self._streaming.enabled:
            return None
        part_size = self._buffers.size
        if self._expected <= part_size or self._size >= self._expected:
            return None
        return min(part_size, self._expected - self._size)

    def _number(self) -> int:
        """The part number of the current slot's part."""
        return (self._size - self._filled) // self._buffers.size + 1

    async def _end_part(self) -> None:
        """The current slot holds its whole part: have it stored, and move to the next slot."""
        stream, self._stream = self._stream, None
        if stream is not None and len(stream.body) != self._filled:  # fewer bytes than told
            await stream.abandon()
            stream = None
        await self._ensure_upload()
        sending = self._store_part(self._number(), self._held(), stream)
        self._sends[self._current] = asyncio.ensure_future(sending)
        self._current = (self._current + 1) % self._slot_count
        self._filled = 0

    def _held(self) -> memoryview:
        """The bytes of the current slot."""
        return memoryview(self._buffer())[: self._filled]

    async def _store_part(
        self, number: int, data: memoryview, stream: SegmentStream | None
    ) -> CompletedPartTypeDef:
        if stream is not None and await stream.finished():
            part = self._streamed.pop(number)
            if "ChecksumCRC32" not in part:  # S3 did not echo it: summed here
                part["ChecksumCRC32"] = await part_checksum(data)
            return part
        assert self._upload_id is not None
        return await self._bucket.put_part(self._key, self._path, self._upload_id, number, data)

    async def complete(self) -> None:
        if self._done:
            raise StorageError(f"direct writer of {self._path} is finished")
        if self._upload_id is None and not any(self._sends):
            await self._bucket.put(self._key, self._path, self._held())
        else:
            if self._filled or (not self._parts and not any(self._sends)):
                await self._end_part()
            for index, sending in enumerate(self._sends):
                self._sends[index] = None
                if sending is not None:
                    self._parts.append(await sending)
            assert self._upload_id is not None
            client = await self._connection.client()
            timeout = self._connection.options.transfer_timeout(self._size)
            async with self._connection.call("write", self._path, timeout):
                await client.complete_multipart_upload(
                    Bucket=self._bucket.name,
                    Key=self._key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": sorted(self._parts, key=_part_number)},
                )
        self._done = True
        for buffer in self._slots:
            self._buffers.give(buffer)
        self._slots = []

    async def abort(self) -> None:
        self._done = True
        self._slots = []  # a failed send may still refer to them: not returned to the pool
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.abandon()
        sends, self._sends = [send for send in self._sends if send is not None], []
        for sending in sends:
            sending.cancel()
        for sending in sends:
            with contextlib.suppress(BaseException):
                await sending
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            await asyncio.shield(self._copier.abort_upload(self._key, upload_id))

    async def _ensure_upload(self) -> None:
        if self._upload_id is None:
            client = await self._connection.client()
            async with self._connection.call("write", self._path):
                created = await client.create_multipart_upload(
                    Bucket=self._bucket.name, Key=self._key, ChecksumAlgorithm="CRC32"
                )
            self._upload_id = created["UploadId"]


def _part_number(part: CompletedPartTypeDef) -> int:
    return part["PartNumber"]
