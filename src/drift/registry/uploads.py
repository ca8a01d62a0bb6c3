"""Blob upload sessions (distribution-spec v1.1 "Pushing blobs"), resumable and crash-safe.

Data streams into ``_uploads/<uuid>/data`` through an exclusive append writer while it is hashed
in a second thread. A commit verifies the digest, makes the data durable (fsync) and moves it into
``blobs/`` in one atomic rename, so a crash or a cancelled request never exposes a partial blob.
Sessions live in storage, so they survive restarts and can be continued on any worker or node.

When the digest is known before the data (POST ``?digest=``, or a PUT carrying the whole blob
into an empty session) and the driver offers a ``DirectWriter`` (an object store), the body is
streamed straight to the blob's final path while hashed, and published only once the digest
matched: nothing is written twice (no upload file, no server-side copy), nothing partial or
wrong is ever visible, and a cut body leaves the session as it was (empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import uuid as uuid_module
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Final

from drift.core.http import BodyIncompleteError, RequestBody
from drift.events.model import NULL_SINK, EventKind, EventSink, RegistryEvent
from drift.oci.digest import Digest, Hasher, new_hasher
from drift.oci.errors import ErrorCode, RegistryError
from drift.registry.blobs import BlobStore
from drift.registry.hashing import STREAMING_ALGORITHM, HasherCache, hash_stored
from drift.registry.upload_state import UploadState, UploadStateCodec
from drift.storage import layout
from drift.storage.driver import (
    DirectWriter,
    FileWriter,
    PathNotFoundError,
    StorageDriver,
    WriterBusyError,
)
from drift.storage.executor import run_blocking

__all__ = ["BLOCK_SIZE", "UploadSession", "Uploads"]

BLOCK_SIZE: Final = 1 << 20  # bytes buffered per write+hash step
_UUID: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class UploadSession:
    name: str
    uuid: str
    size: int
    started_at: str

    @property
    def range_header(self) -> str:
        # distribution answers "0-0" for an empty session; clients rely on the inclusive form.
        return f"0-{max(self.size - 1, 0)}"


def _unknown(uuid: str) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": uuid})


class _BlockReader:
    """Reads the body in blocks of BLOCK_SIZE; a cut body still yields what did arrive."""

    __slots__ = ("_body", "_error")

    def __init__(self, body: RequestBody) -> None:
        self._body = body
        self._error: BodyIncompleteError | None = None

    async def next_block(self) -> bytes:
        if self._error is not None:
            raise self._error
        parts: list[bytes] = []
        total = 0
        try:
            while total < BLOCK_SIZE:
                part = await self._body.read(BLOCK_SIZE - total)
                if not part:
                    break
                parts.append(part)
                total += len(part)
        except BodyIncompleteError as error:
            if not parts:
                raise
            self._error = error
        return parts[0] if len(parts) == 1 else b"".join(parts)


class Uploads:
    def __init__(
        self,
        driver: StorageDriver,
        blobs: BlobStore,
        codec: UploadStateCodec,
        events: EventSink = NULL_SINK,
    ) -> None:
        self._driver = driver
        self._blobs = blobs
        self._codec = codec
        self._events = events
        self._hashers = HasherCache()

    @property
    def min_chunk_length(self) -> int:
        """The chunk size below which a PATCH is costly to store (OCI-Chunk-Min-Length)."""
        return self._driver.min_chunk_length or 1

    def state_token(self, session: UploadSession) -> str:
        return self._codec.encode(
            UploadState(session.name, session.uuid, session.size, session.started_at)
        )

    async def start(self, name: str) -> UploadSession:
        session_id = str(uuid_module.uuid4())
        paths = layout.RepositoryPaths(name)
        started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self._driver.put_content(paths.upload_data(session_id), b"")
        await self._driver.put_content(paths.upload_started_at(session_id), started_at.encode())
        return UploadSession(name, session_id, 0, started_at)

    async def open(
        self, name: str, session_id: str, state_token: str | None, *, writing: bool = False
    ) -> UploadSession:
        """The session as stored; the signed ``_state``, when given, must belong to it.

        ``writing``: the caller opens the upload's writer next, which finds the upload's size
        (or its absence) itself. With a ``_state`` nothing is read then (two storage round
        trips less per chunk): the state, signed by this deployment, tells when the upload
        started, and its offset stands in for the size until the writer knows it.
        """
        if not _UUID.match(session_id):
            raise _unknown(session_id)
        if state_token is not None:
            state = self._codec.decode(state_token)
            if state.name != name or state.uuid != session_id:
                raise RegistryError(
                    ErrorCode.BLOB_UPLOAD_INVALID, "upload state belongs to another session"
                )
            if writing:
                return UploadSession(name, session_id, state.offset, state.started_at)
        paths = layout.RepositoryPaths(name)
        try:
            started_at = await self._driver.get_content(paths.upload_started_at(session_id))
            size = (await self._driver.stat(paths.upload_data(session_id))).size
        except PathNotFoundError:
            raise _unknown(session_id) from None
        return UploadSession(name, session_id, size, started_at.decode("ascii", "replace"))

    async def _writer(self, session: UploadSession) -> FileWriter:
        path = layout.RepositoryPaths(session.name).upload_data(session.uuid)
        try:
            return await self._driver.writer(path, append=True)
        except WriterBusyError:
            raise RegistryError(
                ErrorCode.BLOB_UPLOAD_INVALID,
                "another request is writing to this upload; retry after it finished",
                status=409,
            ) from None
        except PathNotFoundError:
            raise _unknown(session.uuid) from None

    async def append(
        self,
        session: UploadSession,
        body: RequestBody,
        start: int | None,
        length: int | None = None,
    ) -> UploadSession:
        """Stream ``body`` (``length`` bytes, when known) onto the session; ``start``
        (Content-Range) must equal its size."""
        writer = await self._writer(session)
        try:
            session = replace(session, size=writer.size)
            if start is not None and start != writer.size:
                raise RegistryError(
                    ErrorCode.BLOB_UPLOAD_INVALID,
                    f"chunk starts at {start} but the upload holds {writer.size} bytes",
                    status=416,
                    headers={"Range": session.range_header},
                )
            await writer.expect(length)
            await self._stream_into(session, writer, body)
            return replace(session, size=writer.size)
        finally:
            await writer.close()

    async def _stream_into(
        self, session: UploadSession, writer: FileWriter, body: RequestBody
    ) -> None:
        path = layout.RepositoryPaths(session.name).upload_data(session.uuid)
        hasher = await self._hashers.hasher_at(self._driver, session.uuid, path, writer.size)
        try:
            await _pump(body, writer.write, hasher)
        except BodyIncompleteError:
            self._hashers.put(session.uuid, writer.size, hasher)
            raise RegistryError(
                ErrorCode.BLOB_UPLOAD_INVALID,
                "request body ended early; the data received was kept, resume from Range",
                headers={"Range": replace(session, size=writer.size).range_header},
            ) from None
        except BaseException:
            self._hashers.discard(session.uuid)
            raise
        self._hashers.put(session.uuid, writer.size, hasher)

    async def commit(self, session: UploadSession, digest: Digest) -> None:
        """Verify ``digest``, make the data durable and move it into place, or cancel."""
        paths = layout.RepositoryPaths(session.name)
        data_path = paths.upload_data(session.uuid)
        writer = await self._writer(session)
        session = replace(session, size=writer.size)
        try:
            if digest.algorithm == STREAMING_ALGORITHM:
                hasher = await self._hashers.hasher_at(
                    self._driver, session.uuid, data_path, writer.size
                )
            else:
                hasher = new_hasher(digest.algorithm)
                await hash_stored(self._driver, data_path, hasher, 0, writer.size)
            if hasher.hexdigest() != digest.hex:
                await writer.cancel()
                await self._remove(session)
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID,
                    f"uploaded content does not match digest {digest}; the upload was discarded",
                    detail={"digest": str(digest)},
                )
            await writer.commit()
            await self._blobs.ingest(data_path, digest)
        finally:
            await writer.close()
        await self._published(session, digest)

    async def cancel(self, session: UploadSession) -> None:
        writer = await self._writer(session)
        try:
            await writer.cancel()
        finally:
            await writer.close()
        await self._remove(session)

    async def _remove(self, session: UploadSession) -> None:
        self._hashers.discard(session.uuid)
        with contextlib.suppress(PathNotFoundError):
            await self._driver.delete(layout.RepositoryPaths(session.name).upload(session.uuid))

    async def finish(
        self,
        session: UploadSession,
        body: RequestBody,
        start: int | None,
        digest: Digest,
        length: int | None = None,
    ) -> None:
        """A PUT with a body (``length`` bytes, when known): append it and commit, or stream
        it directly (module docstring) when it is the whole blob."""
        direct = self._driver.direct_writer(layout.blob_data(digest), length)
        if session.size == 0 and not start and direct is not None:
            writer = await self._writer(session)  # keeps PATCHes of this session out meanwhile
            try:
                whole = writer.size == 0
                if whole:
                    try:
                        size = await self._store_direct(direct, body, digest)
                    except RegistryError as error:
                        if error.code == ErrorCode.DIGEST_INVALID:
                            await writer.cancel()
                            await self._remove(session)
                        raise
            finally:
                await writer.close()
            if whole:
                await self._published(replace(session, size=size), digest)
                return
        session = await self.append(session, body, start, length)
        await self.commit(session, digest)

    async def upload_whole(
        self, name: str, body: RequestBody, digest: Digest, length: int | None = None
    ) -> None:
        """A monolithic upload (POST ``?digest=``): nothing remains if it fails."""
        direct = self._driver.direct_writer(layout.blob_data(digest), length)
        if direct is not None:
            size = await self._store_direct(direct, body, digest)
            await self._blobs.link_layer(name, digest)
            await self._emit_push(name, digest, size)
            return
        session = await self.start(name)
        try:
            session = await self.append(session, body, 0, length)
            await self.commit(session, digest)
        except BaseException:
            await asyncio.shield(self._remove(session))
            raise

    async def _published(self, session: UploadSession, digest: Digest) -> None:
        await self._blobs.link_layer(session.name, digest)
        await self._remove(session)
        await self._emit_push(session.name, digest, session.size)

    async def _emit_push(self, name: str, digest: Digest, size: int) -> None:
        await self._events.emit(RegistryEvent(EventKind.BLOB_PUSH, name, str(digest), size=size))

    async def _store_direct(self, writer: DirectWriter, body: RequestBody, digest: Digest) -> int:
        """Stream ``body`` through ``writer`` (to the blob's path), published once its digest
        matched; its size. A blob already stored is not written again (only hashed)."""
        direct = None if await self._blobs.size(digest) is not None else writer
        hasher = new_hasher(digest.algorithm)
        try:
            size = await _pump(body, _discard if direct is None else direct.write, hasher)
            if hasher.hexdigest() != digest.hex:
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID,
                    f"uploaded content does not match digest {digest}; the upload was discarded",
                    detail={"digest": str(digest)},
                )
            if direct is not None:
                await direct.complete()
        except BodyIncompleteError:
            await _abort(direct)
            raise RegistryError(
                ErrorCode.BLOB_UPLOAD_INVALID,
                "request body ended early; nothing was kept, send the blob again",
                headers={"Range": "0-0"},
            ) from None
        except BaseException:
            await _abort(direct)
            raise
        return size


async def _pump(
    body: RequestBody, write: Callable[[bytes], Awaitable[None]], hasher: Hasher
) -> int:
    """Read ``body`` in blocks, each written and hashed in two threads while the loop reads
    the next one; how many bytes. A cut body: what arrived is written, then
    ``BodyIncompleteError`` is raised."""
    reader = _BlockReader(body)
    pending: asyncio.Future[tuple[None, None]] | None = None
    size = 0
    try:
        while True:
            block = await reader.next_block()
            if pending is not None:
                await pending
                pending = None
            if not block:
                return size
            size += len(block)
            pending = asyncio.gather(write(block), run_blocking(hasher.update, block))
    except BodyIncompleteError:
        if pending is not None:
            await pending
        raise
    except BaseException:
        if pending is not None:
            pending.cancel()
        raise


async def _discard(block: bytes) -> None:
    del block


async def _abort(direct: DirectWriter | None) -> None:
    if direct is not None:
        await asyncio.shield(direct.abort())
