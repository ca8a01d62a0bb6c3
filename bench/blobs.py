"""Benchmark blob content: one random file on disk plus a short unique tail per push.

Every push uploads `file + tail` with a fresh random tail, so no push ever hits an existing blob
and every digest is known before the timed section starts (the hash state of the file is kept
and only the tail is hashed per variant).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "TAIL_BYTES",
    "Blob",
    "BlobRange",
    "BlobSource",
    "durable_write_mb_per_s",
    "sha256_mb_per_s",
]

TAIL_BYTES: Final = 32
_WRITE_CHUNK: Final = 8 << 20


@dataclass(frozen=True, slots=True)
class Blob:
    """Bytes `[0, file_size)` of `path` followed by `tail`."""

    path: Path
    file_size: int
    tail: bytes
    digest: str

    @property
    def size(self) -> int:
        return self.file_size + len(self.tail)

    def range(self, start: int, end: int) -> BlobRange:
        return BlobRange(self, start, end)


@dataclass(frozen=True, slots=True)
class BlobRange:
    """Bytes `[start, end)` of a blob as a request body: the file part goes out with sendfile."""

    blob: Blob
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def send(self, sock: socket.socket) -> None:
        file_size = self.blob.file_size
        file_end = min(self.end, file_size)
        if self.start < file_end:
            with self.blob.path.open("rb") as source:
                sent = sock.sendfile(source, self.start, file_end - self.start)
            if sent != file_end - self.start:
                raise OSError(f"sendfile sent {sent} of {file_end - self.start} bytes")
        tail_start = max(self.start, file_size) - file_size
        if self.end > file_size:
            sock.sendall(self.blob.tail[tail_start : self.end - file_size])


class BlobSource:
    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self._state = hashlib.sha256()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            remaining = size
            while remaining:
                chunk = os.urandom(min(_WRITE_CHUNK, remaining))
                self._state.update(chunk)
                out.write(chunk)
                remaining -= len(chunk)

    def variant(self) -> Blob:
        tail = secrets.token_bytes(TAIL_BYTES)
        state = self._state.copy()
        state.update(tail)
        return Blob(self.path, self.size, tail, f"sha256:{state.hexdigest()}")


def sha256_mb_per_s(size: int) -> float:
    """hashlib sha256 throughput of one core over `size` bytes already in memory (MB/s)."""
    data = bytes(range(256)) * (size // 256)
    start = time.perf_counter()
    hashlib.sha256(data).digest()
    return len(data) / (time.perf_counter() - start) / 1e6


def durable_write_mb_per_s(path: Path, size: int) -> float:
    """Write `size` bytes to `path` and fdatasync them, as a registry commit does (MB/s).

    The ceiling of any durable push on this disk, whatever the registry.
    """
    chunk = os.urandom(_WRITE_CHUNK)
    os.sync()
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        remaining = size
        while remaining:
            remaining -= os.write(fd, chunk[: min(remaining, len(chunk))])
        os.fdatasync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - start
    path.unlink()
    return size / elapsed / 1e6
