"""Part buffers and part payloads: the memory that writers fill and send to S3.

A writer holds at most one part in memory: one ``bytearray`` of ``part_size`` filled in place
and sent from there as a file object (``PartStream``), which aiohttp reads in small chunks: no
copy of the part is ever made (``bytes`` bodies are wrapped in a file object by botocore anyway,
and aiohttp copies a ``bytearray`` body whole when it slices it to its Content-Length).
Buffers are pooled per driver so that concurrent uploads reuse the same few allocations
instead of growing the heap.

Integrity: the client does not hash payloads over plain HTTP (``payload_signing_enabled`` off,
see ``client``); every body carries ``Content-MD5`` instead (RFC 1864; S3 answers ``BadDigest``
when the bytes it received differ), computed here off the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from typing import Final

from drift.storage.executor import run_blocking

__all__ = ["BufferPool", "PartDigest", "PartStream", "part_digest"]

_INLINE_HASH: Final = 1 << 16  # smaller payloads are hashed on the loop (a thread hop costs more)


@dataclass(frozen=True, slots=True)
class PartDigest:
    md5_hex: str

    @property
    def content_md5(self) -> str:
        return base64.b64encode(bytes.fromhex(self.md5_hex)).decode("ascii")


def _md5(data: bytes | memoryview) -> PartDigest:
    return PartDigest(hashlib.md5(data, usedforsecurity=False).hexdigest())


async def part_digest(data: bytes | memoryview) -> PartDigest:
    if len(data) < _INLINE_HASH:
        return _md5(data)
    return await run_blocking(_md5, data)


class BufferPool:
    """Reusable ``bytearray`` buffers of ``size`` bytes; at most ``keep`` idle ones are kept."""

    def __init__(self, size: int, keep: int = 4) -> None:
        self.size = size
        self._keep = keep
        self._idle: list[bytearray] = []

    def take(self) -> bytearray:
        return self._idle.pop() if self._idle else bytearray(self.size)

    def give(self, buffer: bytearray) -> None:
        """Return a buffer no request refers to any more (a failed send may still hold one:
        such a buffer is dropped instead)."""
        if len(buffer) == self.size and len(self._idle) < self._keep:
            self._idle.append(buffer)


class PartStream(io.RawIOBase):
    """A seekable read-only file over a buffer's bytes (seekable: botocore rewinds a body
    before it retries a request)."""

    def __init__(self, data: bytes | memoryview) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk
