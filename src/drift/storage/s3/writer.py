"""The append-only writer of the S3 driver: a file as segments, no temporary file anywhere.

Appended bytes are held in memory until they make a segment (``keys``, ``segments``):

- as soon as ``part_size`` bytes are held, they are stored as one *part* segment;
- ``commit`` and ``close`` store what is held: a part when it reaches ``MIN_PART_SIZE`` (S3's
  minimum part size), else the file's one *tail* segment;
- a tail is never appended to in place (objects are immutable): the next store writes a
  segment from the tail's start, holding the tail's bytes and the new ones, then deletes the old
  tail. A writer that resumes a file (``append=True``, another request or node) reads the tail
  back, once and only when it has bytes to add: only that tail, under 5 MiB, is ever sent twice.

Memory per writer is one part: a pooled ``bytearray`` of ``part_size`` (``buffers``) that writes
fill in place and that every segment is sent from, never copied. Every segment but the last
is a valid multipart part, so ``move`` assembles the file server-side. A file that is a plain
object (``put_content``, an upload created by registry:2) is converted when the first segment is
stored: its bytes become the first segment (server-side copy, or the tail when small) and the
object is deleted last, since it hides the segments until then.

A writer told how many bytes are coming (``expect``) sends each segment while it fills
(``stream``): the segment's end is known up front, so its PUT starts with its first byte. Told
that an unknown number is coming, it sends a whole part once ``min_part_size`` of it is held.

Exclusivity: ``WriterLocks`` refuses a second writer of a path in this process. S3 has no
locks across nodes; segments are created with ``If-None-Match: *``, so two nodes appending to
one upload at once (a client bug) cannot overwrite each other's data: the later store fails
with ``WriterBusyError`` and the client resumes from what is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from drift.storage.driver import FileWriter, StorageError, WriterBusyError
from drift.storage.s3.buffers import BufferPool, StreamedBody
from drift.storage.s3.copy import Copier
from drift.storage.s3.files import Files, StoredFile
from drift.storage.s3.segments import MIN_PART_SIZE
from drift.storage.s3.stream import SegmentStream, StreamingSwitch

__all__ = ["S3Writer", "WriterLocks", "WriterSettings"]

_log = logging.getLogger(__name__)


class WriterLocks:
    """Paths with an open writer in this process."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    def acquire(self, path: str) -> None:
        if path in self._held:
            raise WriterBusyError(f"another writer holds {path}")
        self._held.add(path)

    def release(self, path: str) -> None:
        self._held.discard(path)


@dataclass(frozen=True, slots=True)
class WriterSettings:
    part_size: int
    min_part_size: int = MIN_PART_SIZE
    streaming: StreamingSwitch = field(default_factory=StreamingSwitch)  # one per driver


class S3Writer(FileWriter):
    def __init__(
        self,
        files: Files,
        copier: Copier,
        settings: WriterSettings,
        buffers: BufferPool,
        path: str,
        *,
        stored: StoredFile,
        release: Callable[[], None],
    ) -> None:
        self._files = files
        self._bucket = files.bucket
        self._copier = copier
        self._settings = settings
        self._buffers = buffers
        self._path = path
        self._release = release
        self._closed = False
        self._size = self._committed = self._base = 0  # base: where the tail region starts
        self._tail_key: str | None = None  # the object holding [base, committed), if any
        # [base, size) at the start of _buffer ([base, committed) once the tail is loaded)
        self._buffer: bytearray | None = None
        self._tail_loaded = True
        self._plain: str | None = None  # a plain object to delete once segments hold its bytes
        self._convert: int | None = None  # its size, when it must be copied into a first part
        self._stale: list[str] = []  # superseded segments, deleted at the next store
        self._expected_end = 0  # where the bytes announced by ``expect`` end
        self._open_ended = False  # ``expect(None)``: more bytes are coming, how many is unknown
        self._stream: SegmentStream | None = None  # the segment being sent while written
        self._resume(stored)

    def _resume(self, stored: StoredFile) -> None:
        self._size = self._committed = stored.size
        if stored.plain is not None:
            self._plain = stored.key
            if stored.size >= self._settings.min_part_size:
                self._base, self._convert = stored.size, stored.size
            elif stored.size:
                self._tail_key, self._tail_loaded = stored.key, False
            return
        assert stored.segmented is not None
        segments = stored.segmented.segments
        self._stale = list(stored.segmented.stale)
        last = segments[-1]
        if last.size >= self._settings.min_part_size:
            self._base = last.end
        else:
            self._base, self._tail_key, self._tail_loaded = last.start, last.key, False

    @property
    def size(self) -> int:
        return self._size

    async def expect(self, count: int | None) -> None:
        self._check_open()
        self._open_ended = count is None
        self._expected_end = self._size + (count or 0)
        await self._start_stream()

    async def write(self, data: bytes | memoryview) -> None:
        self._check_open()
        view = memoryview(data).cast("B")
        part_size = self._settings.part_size
        while view:
            buffer = self._room()
            at = self._size - self._base
            segment_end = part_size if self._stream is None else self._stream.end - self._base
            count = min(len(view), segment_end - at)
            buffer[at : at + count] = view[:count]
            self._size += count
            view = view[count:]
            if self._stream is not None:
                self._stream.body.filled(at + count)
            if at + count == segment_end:
                await self._store()
                await self._start_stream()
            elif self._open_ended and self._stream is None:
                await self._start_stream()

    def _room(self) -> bytearray:
        """The buffer holding [base, size), taken from the pool when none is held."""
        if self._buffer is None:
            self._buffer = self._buffers.take()
        return self._buffer

    def _drop_buffers(self, reusable: bool) -> None:
        if self._buffer is not None and reusable:
            self._buffers.give(self._buffer)
        self._buffer = None

    async def commit(self) -> None:
        self._check_open()
        await self._store()

    async def cancel(self) -> None:
        self._check_open()
        self._closed = True
        try:
            await self._abandon_stream()
            await self._files.remove_file(self._path)
        finally:
            self._drop_buffers(reusable=self._size == self._committed)
            self._release()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._store()
        finally:
            self._drop_buffers(reusable=self._size == self._committed)
            self._release()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"writer of {self._path} is closed")

    async def _store(self) -> None:
        """Make every byte written so far durable as a segment (see the module docstring)."""
        stream = self._stream
        if stream is not None and self._size < stream.end:  # fewer bytes came than announced
            await self._abandon_stream()
        elif stream is not None:
            self._stream = None
            if await stream.finished():
                self._stored(stream.key, stream.end)
        if self._size > self._committed:
            await self._store_segment()
        plain = self._plain
        if plain is not None and self._segments_hold_plain():  # it only hides them now
            await self._bucket.delete([plain], self._path)
            self._plain = None
        if self._stale:
            stale, self._stale = self._stale, []
            try:
                await self._bucket.delete(stale, self._path)
            except StorageError as exc:  # superseded data is never read: retried next time
                _log.warning("could not delete superseded segments of %s: %s", self._path, exc)
                self._stale = stale

    def _segments_hold_plain(self) -> bool:
        return self._committed > 0 and self._convert is None and self._tail_key != self._plain

    async def _start_stream(self) -> None:
        """Send the next segment while it fills: when the bytes announced reach past what is
        held, up to the part's end or where they end, whichever comes first; when how many
        bytes come is unknown, a whole part once ``min_part_size`` of it is held (a body that
        ends before the part is full leaves that PUT unfinished, and what came is stored
        whole: the bytes sent in vain are at most a part)."""
        if self._stream is not None or not self._settings.streaming.enabled:
            return
        start, part_size = self._base, self._settings.part_size
        if self._expected_end > self._size:
            end = min(start + part_size, self._expected_end)
        elif self._open_ended and self._size - start >= self._settings.min_part_size:
            end = start + part_size
        else:
            return
        await self._prepare_segment()
        key = self._files.keys.segment_key(self._path, start, end)
        body = StreamedBody(self._room(), end - start, self._size - start)
        path = self._path

        async def send(body: StreamedBody) -> None:
            await self._bucket.put_stream(key, path, body)

        self._stream = SegmentStream(key, end, body, send=send, switch=self._settings.streaming)

    async def _abandon_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.abandon()

    async def _prepare_segment(self) -> None:
        """Before a segment is stored: a plain object's bytes become the first part, and the
        tail that the segment replaces is in the buffer."""
        if self._convert is not None:
            keys = self._files.keys
            first = keys.segment_key(self._path, 0, self._convert)
            await self._copier.copy([(keys.key(self._path), self._convert)], first, self._path)
            self._convert = None
        await self._load_tail()

    async def _store_segment(self) -> None:
        await self._prepare_segment()
        start, end = self._base, self._size
        payload = memoryview(self._room())[: end - start]
        key = self._files.keys.segment_key(self._path, start, end)
        await self._bucket.put(key, self._path, payload, if_absent=True)
        self._stored(key, end)

    def _stored(self, key: str, end: int) -> None:
        """The segment ``[base, end)`` is stored under ``key``."""
        if self._tail_key is not None and self._tail_key != self._plain:
            self._stale.append(self._tail_key)
        if end - self._base >= self._settings.min_part_size:
            self._base, self._tail_key = end, None
        else:
            self._tail_key = key
        self._committed = end

    async def _load_tail(self) -> None:
        if self._tail_loaded:
            return
        assert self._tail_key is not None
        size = self._committed - self._base
        data = await self._bucket.get_bytes(self._tail_key, self._path, size)
        if data is None or len(data) != size:
            raise WriterBusyError(f"another writer appended to {self._path} meanwhile")
        self._room()[:size] = data
        self._tail_loaded = True
