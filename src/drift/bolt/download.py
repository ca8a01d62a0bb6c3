"""Downloading one blob into the layout: streamed to disk, its digest verified on the way.

The body is read in pieces of ``READ_MIN``..``READ_MAX`` bytes; each piece is hashed and written
in the storage executor (hashing releases the GIL, so it overlaps with the event loop receiving
the next piece) while the next one arrives: one write in flight, at most a receive window of
bytes buffered, whatever the blob's size. A transfer cut short (stream reset, connection lost) is
resumed once from the bytes already written, with ``Range`` (RFC 9110 section 14.2); a registry
that answers the whole blob instead makes it start over. The digest is checked after the last
byte, before the blob becomes visible in the layout; a mismatch is never retried (QUIC protects
the bytes in transit: a wrong digest is wrong content at the registry).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Final

from drift.bolt.errors import PullError, TransferError
from drift.bolt.h3 import H3Response
from drift.bolt.layout import LayoutWriter, PartialFile
from drift.bolt.progress import Progress
from drift.bolt.registry import RegistryClient
from drift.oci.digest import Hasher, new_hasher
from drift.oci.manifest import Descriptor
from drift.storage.executor import run_blocking

__all__ = ["READ_MAX", "READ_MIN", "download_blob"]

READ_MIN: Final = 256 * 1024  # must stay below the receive window (ConnectionOptions.window)
READ_MAX: Final = 1 << 20
_CONTENT_RANGE: Final = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class _Sink:
    """The partial file of one blob and the running hash of what it holds (blocking calls)."""

    def __init__(self, partial: PartialFile, algorithm: str) -> None:
        self.partial = partial
        self.algorithm = algorithm
        self.hasher: Hasher = new_hasher(algorithm)

    def write(self, data: bytes) -> None:
        self.hasher.update(data)
        self.partial.write(data)

    def restart(self) -> None:
        self.partial.truncate()
        self.hasher = new_hasher(self.algorithm)


async def download_blob(
    client: RegistryClient,
    layout: LayoutWriter,
    descriptor: Descriptor,
    progress: Progress,
    name: str,
) -> None:
    if await run_blocking(layout.has_blob, descriptor):
        progress.present(name)
        return
    partial = await run_blocking(layout.partial, descriptor.digest)
    try:
        sink = _Sink(partial, descriptor.digest.algorithm)
        await _transfer(client, descriptor, sink, progress, name)
        actual = sink.hasher.hexdigest()
        if actual != descriptor.digest.hex:
            raise PullError(
                f"digest mismatch for blob {descriptor.digest}: the registry sent "
                f"{descriptor.digest.algorithm}:{actual}"
            )
        await run_blocking(layout.commit_blob, partial, descriptor.digest)
    except BaseException:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(run_blocking(partial.discard))
        raise
    progress.done(name)


async def _transfer(
    client: RegistryClient, descriptor: Descriptor, sink: _Sink, progress: Progress, name: str
) -> None:
    for attempt in range(2):
        try:
            await _receive(client, descriptor, sink, progress, name)
            return
        except TransferError as exc:
            if attempt == 1:
                raise TransferError(f"blob {descriptor.digest}: {exc} (after one retry)") from None
            progress.retry(name, str(exc), sink.partial.size)


async def _receive(
    client: RegistryClient, descriptor: Descriptor, sink: _Sink, progress: Progress, name: str
) -> None:
    offset = sink.partial.size
    response = await client.open_blob(descriptor.digest, offset)
    writing: asyncio.Future[None] | None = None
    position = offset
    try:
        if offset and response.status == 200:
            await run_blocking(sink.restart)
            progress.retry(name, "the registry ignored the range", 0)
            offset = position = 0
        _check_extent(response, descriptor, offset)
        progress.start(name)
        while data := await response.body.read(READ_MAX, READ_MIN):
            position += len(data)
            if position > descriptor.size:
                raise PullError(
                    f"blob {descriptor.digest}: the registry sent more than its "
                    f"{descriptor.size} bytes"
                )
            if writing is not None:
                await writing
            writing = run_blocking(sink.write, data)
            progress.advance(name, len(data))
    finally:
        response.close()
        if writing is not None:  # what arrived before a failure is kept for the resume
            await asyncio.shield(writing)
    if position != descriptor.size:
        raise PullError(
            f"blob {descriptor.digest}: the registry sent {position} of {descriptor.size} bytes"
        )


def _check_extent(response: H3Response, descriptor: Descriptor, offset: int) -> None:
    """The response carries bytes ``offset``.. of a blob of the descriptor's size."""
    what = f"blob {descriptor.digest}"
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch((response.header("content-range") or "").strip())
        if match is None or int(match.group(1)) != offset:
            raise PullError(f"{what}: the registry answered another range than bytes={offset}-")
        if int(match.group(3)) != descriptor.size:
            raise PullError(
                f"{what}: the registry holds {match.group(3)} bytes, the manifest says "
                f"{descriptor.size}"
            )
    length = response.header("content-length")
    if length is not None and length.isdigit() and int(length) != descriptor.size - offset:
        raise PullError(
            f"{what}: the registry sends {int(length) + offset} bytes, the manifest says "
            f"{descriptor.size}"
        )
