"""Object requests on the bucket, by key: what the driver and its writer ask of S3.

Every request runs under ``S3Connection.call`` (a deadline, failures as ``StorageError``);
``path`` is the driver path it serves, for error messages. Reads (object bytes, listings) are
presigned GETs of the ``fetch`` client; every other request goes through botocore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, cast

from botocore.exceptions import ClientError

from drift.storage.driver import PathNotFoundError, StorageError, WriterBusyError
from drift.storage.executor import run_blocking
from drift.storage.s3.buffers import PartStream, StreamedBody, part_checksum
from drift.storage.s3.client import S3Connection, error_code, is_s3_failure
from drift.storage.s3.fetch import FetchedBody, Fetcher, Response
from drift.storage.s3.listing import ListingError, parse_list_page
from drift.storage.s3.presign import Presigner
from drift.storage.s3.segments import ListedObject

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

__all__ = ["Bucket", "ObjectInfo", "RangeReader"]

DELETE_BATCH: Final = 1000  # DeleteObjects limit
_RESUMES: Final = 2  # a body cut while streaming is asked for again from where it stopped
_CONFLICT: Final = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_EMPTY_RANGE: Final = frozenset({"InvalidRange", "416"})


class _Body(Protocol):
    async def read(self, amt: int | None = ...) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    modified: dt.datetime
    etag: str


def _client_code(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return error_code(cause) if isinstance(cause, ClientError) else None


def _md5_hex(data: bytes | memoryview) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _body(data: bytes | memoryview) -> IO[bytes]:
    return cast("IO[bytes]", PartStream(data))  # a file object as botocore takes it


class RangeReader:
    """The bytes ``[position, end)`` of one object as they arrive; a body cut while streaming
    (a connection reset, a stalled read) is asked for again from where it stopped."""

    def __init__(
        self, bucket: Bucket, key: str, path: str, *, position: int, end: int, body: _Body | None
    ) -> None:
        self._bucket = bucket
        self._key = key
        self._path = path
        self._position = position
        self._end = end
        self._body = body

    async def chunks(self, read_size: int) -> AsyncGenerator[bytes, None]:
        """Pieces of at most ``read_size`` bytes, as the HTTP client has them."""
        resumes = 0
        body, self._body = self._body, None
        try:
            while self._position < self._end:
                if body is None:
                    body = await self._bucket.open_body(
                        self._key, self._path, self._position, self._end
                    )
                try:
                    chunk = await body.read(min(read_size, self._end - self._position))
                except Exception as exc:
                    if not is_s3_failure(exc):
                        raise
                    resumes += 1
                    if resumes > _RESUMES:
                        raise self._bucket.connection.translate(exc, "read", self._path) from exc
                    body.close()
                    body = None
                    continue
                if not chunk:
                    raise StorageError(f"S3 ended {self._path} early, at byte {self._position}")
                self._position += len(chunk)
                yield chunk
        finally:
            if body is not None:
                body.close()


class Bucket:
    def __init__(self, connection: S3Connection, signer: Presigner, fetcher: Fetcher) -> None:
        self.connection = connection
        self.name = connection.bucket
        self._signer = signer  # for the endpoint Drift reaches S3 at
        self.fetcher = fetcher  # reads: object bytes, small objects, listings

    # -- reading -----------------------------------------------------------------------------

    async def head(self, key: str, path: str) -> ObjectInfo | None:
        client = await self.connection.client()
        try:
            async with self.connection.call("stat", path):
                reply = await client.head_object(Bucket=self.name, Key=key)
        except PathNotFoundError:
            return None
        return ObjectInfo(reply["ContentLength"], reply["LastModified"], reply.get("ETag", ""))

    async def get_bytes(self, key: str, path: str, size: int = 0) -> bytes | None:
        """The whole object (small content, about ``size`` bytes); None when there is none."""
        url = await self._signer.url(key)
        try:
            async with self.connection.call(
                "read", path, self.connection.options.transfer_timeout(size)
            ):
                return await self.fetcher.get_document(url, limit=None)
        except PathNotFoundError:
            return None

    async def open_range(
        self, key: str, path: str, first: int, end: int | None
    ) -> tuple[RangeReader, int] | None:
        """A reader of ``[first, end)`` clipped to the object, and the object's size; None
        without an object. One GET: the object's existence and size come with its data."""
        ranged = first > 0 or end is not None
        span = f"bytes={first}-{'' if end is None else end - 1}"
        try:
            async with self.connection.call("read", path):
                response, body = await self._get(key, span if ranged else None)
        except PathNotFoundError:
            return None
        except StorageError as exc:
            if _client_code(exc) in _EMPTY_RANGE:  # the range starts at or past the end
                return RangeReader(self, key, path, position=first, end=first, body=None), first
            raise
        headers = response.headers
        total = headers.get("content-range", "").rpartition("/")[2]
        size = int(total if total.isdigit() else headers["content-length"])
        stop = size if end is None else min(end, size)
        return RangeReader(self, key, path, position=first, end=stop, body=body), size

    def range_reader(self, key: str, path: str, first: int, end: int) -> RangeReader:
        return RangeReader(self, key, path, position=first, end=end, body=None)

    async def open_body(self, key: str, path: str, first: int, end: int) -> _Body:
        async with self.connection.call("read", path):
            _, body = await self._get(key, f"bytes={first}-{end - 1}")
        return body

    async def _get(self, key: str, span: str | None) -> tuple[Response, FetchedBody]:
        return await self.fetcher.get(await self._signer.url(key), span)

    def close(self) -> None:
        self.fetcher.close()

    # -- listing -----------------------------------------------------------------------------

    async def list_objects(
        self, prefix: str, path: str, page_size: int = 1000
    ) -> AsyncIterator[ListedObject]:
        """Every object below ``prefix`` (all pages), directory markers left out."""
        async for contents, _ in self._pages(prefix, path, delimiter=False, page_size=page_size):
            for item in contents:
                yield item

    async def list_all(self, prefix: str, path: str) -> list[ListedObject]:
        return [item async for item in self.list_objects(prefix, path)]

    async def list_children(self, prefix: str, path: str) -> tuple[list[ListedObject], list[str]]:
        """Objects and sub-prefixes directly below ``prefix`` (``Delimiter="/"``)."""
        objects: list[ListedObject] = []
        prefixes: list[str] = []
        async for contents, common in self._pages(prefix, path, delimiter=True):
            objects.extend(contents)
            prefixes.extend(common)
        return objects, prefixes

    async def first_below(self, prefix: str, path: str) -> ListedObject | None:
        async for contents, _ in self._pages(prefix, path, delimiter=False, page_size=1):
            if contents:
                return contents[0]
        return None

    async def _pages(
        self, prefix: str, path: str, *, delimiter: bool, page_size: int = 1000
    ) -> AsyncIterator[tuple[list[ListedObject], list[str]]]:
        token: str | None = None
        while True:
            url = await self._signer.list_url(
                prefix, delimiter=delimiter, max_keys=page_size, token=token
            )
            async with self.connection.call("list", path):
                document = await self.fetcher.get_document(url)
            try:
                page = parse_list_page(document)
            except ListingError as exc:
                raise StorageError(f"S3 list of {path} failed: {exc}") from exc
            contents = [
                item
                for item in page.objects
                if not item.key.endswith("/")  # "folder" markers (consoles, SeaweedFS)
            ]
            yield contents, page.prefixes
            if page.next_token is None:
                return
            token = page.next_token

    # -- writing -----------------------------------------------------------------------------

    async def put(
        self, key: str, path: str, data: bytes | memoryview, *, if_absent: bool = False
    ) -> None:
        """One PutObject (atomic), with its CRC32 (``buffers``). ``if_absent``
        (``If-None-Match: *``) refuses to replace an object that another writer made, but
        accepts one this very payload made (a PUT that succeeded although its reply was lost,
        then retried)."""
        client = await self.connection.client()
        checksum = await part_checksum(data)
        timeout = self.connection.options.transfer_timeout(len(data))
        try:
            async with self.connection.call("write", path, timeout):
                if if_absent:
                    await client.put_object(
                        Bucket=self.name,
                        Key=key,
                        Body=_body(data),
                        ChecksumCRC32=checksum,
                        IfNoneMatch="*",
                    )
                else:
                    await client.put_object(
                        Bucket=self.name, Key=key, Body=_body(data), ChecksumCRC32=checksum
                    )
        except StorageError as exc:
            if _client_code(exc) not in _CONFLICT:
                raise
            if not await self._holds(key, path, data):
                raise WriterBusyError(f"another writer wrote {path} at the same offset") from exc

    async def put_stream(self, key: str, path: str, body: StreamedBody) -> None:
        """One PutObject whose body is sent as it is written (``stream``), its CRC32 in a
        trailer, creating ``key`` only if absent. Any failure is the caller's to recover from:
        the bytes stay in its buffer."""
        client = await self.connection.client()
        timeout = self.connection.options.transfer_timeout(len(body))
        async with self.connection.call("write", path, timeout):
            await client.put_object(
                Bucket=self.name,
                Key=key,
                Body=cast("IO[bytes]", body),
                ContentLength=len(body),
                ChecksumAlgorithm="CRC32",
                IfNoneMatch="*",
            )

    async def put_part(
        self, key: str, path: str, upload_id: str, number: int, data: bytes | memoryview
    ) -> CompletedPartTypeDef:
        """One UploadPart of a multipart upload created with ``ChecksumAlgorithm=CRC32``;
        the part as ``CompleteMultipartUpload`` lists it."""
        checksum = await part_checksum(data)
        part = await self._upload_part(
            key, path, upload_id, number, len(data), Body=_body(data), ChecksumCRC32=checksum
        )
        return {**part, "ChecksumCRC32": checksum}

    async def put_part_stream(
        self, key: str, path: str, upload_id: str, number: int, body: StreamedBody
    ) -> CompletedPartTypeDef:
        """``put_part`` with a body sent as it is written (``stream``), its CRC32 in a trailer;
        the part's ``ChecksumCRC32`` when S3 echoes it. Failures as ``put_stream``."""
        return await self._upload_part(
            key,
            path,
            upload_id,
            number,
            len(body),
            Body=cast("IO[bytes]", body),
            ContentLength=len(body),
            ChecksumAlgorithm="CRC32",
        )

    async def _upload_part(
        self, key: str, path: str, upload_id: str, number: int, size: int, **body: Any
    ) -> CompletedPartTypeDef:
        client = await self.connection.client()
        timeout = self.connection.options.transfer_timeout(size)
        async with self.connection.call("write", path, timeout):
            reply = await client.upload_part(
                Bucket=self.name, Key=key, UploadId=upload_id, PartNumber=number, **body
            )
        part: CompletedPartTypeDef = {"PartNumber": number, "ETag": reply.get("ETag", "")}
        if reply.get("ChecksumCRC32"):
            part["ChecksumCRC32"] = reply["ChecksumCRC32"]
        return part

    async def _holds(self, key: str, path: str, data: bytes | memoryview) -> bool:
        info = await self.head(key, path)
        if info is None or info.size != len(data):
            return False
        etag = info.etag.strip('"')
        if len(etag) == 32 and "-" not in etag:  # a plain PUT's ETag is the MD5 of its body
            return etag == await run_blocking(_md5_hex, data)
        return await self.get_bytes(key, path, len(data)) == data

    async def delete(self, keys: Sequence[str], path: str) -> None:
        """Delete objects (absent ones are no error), ``DELETE_BATCH`` per request."""
        client = await self.connection.client()
        for index in range(0, len(keys), DELETE_BATCH):
            batch = keys[index : index + DELETE_BATCH]
            async with self.connection.call("delete", path):
                reply = await client.delete_objects(
                    Bucket=self.name,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            errors = reply.get("Errors", ())
            if errors:
                first = errors[0]
                raise StorageError(
                    f"S3 refused to delete {len(errors)} object(s) of {path}, "
                    f"{first.get('Key')}: {first.get('Code')}: {first.get('Message')}"
                )
