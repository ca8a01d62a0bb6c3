"""Server-side copies: an object onto another key, or many segments into one object.

Data never flows through the registry: ``CopyObject`` for one source up to ``copy_threshold``
(5 GiB at most, S3's limit for it), else a multipart upload whose parts are
``UploadPartCopy`` ranges of the sources, copied ``concurrency`` at a time. A multipart upload
that fails is aborted at once; one that a crash left open is aborted by
``abort_stale_uploads`` (run by the upload purge), so no part lingers, billed and unseen.
``CompleteMultipartUpload`` publishes the object atomically: no partial object is ever visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from drift.storage.driver import StorageError
from drift.storage.s3.objects import Bucket
from drift.storage.s3.segments import (
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    CopyPart,
    Segment,
    copy_parts,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

__all__ = ["Copier", "CopyOptions"]

_log = logging.getLogger(__name__)
_ABORT_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class CopyOptions:
    """Tuning that ``[s3]`` does not expose; tests lower the sizes to exercise every path."""

    copy_threshold: int = 256 << 20  # larger single objects: multipart copy (parallel parts)
    copy_part_size: int = 128 << 20
    max_parts: int = MAX_PARTS
    concurrency: int = 8

    def __post_init__(self) -> None:
        if not 2 * MIN_PART_SIZE <= self.copy_part_size <= MAX_PART_SIZE:
            raise ValueError("copy_part_size must lie between 10 MiB and 5 GiB")
        if not 0 <= self.copy_threshold <= MAX_PART_SIZE:
            raise ValueError("copy_threshold must lie between 0 and 5 GiB")
        if self.max_parts < 2:
            raise ValueError("max_parts must be at least 2")


class Copier:
    def __init__(self, bucket: Bucket, options: CopyOptions) -> None:
        self._bucket = bucket
        self._connection = bucket.connection
        self.options = options

    async def copy(self, sources: Sequence[tuple[str, int]], dest: str, path: str) -> None:
        """``dest`` becomes the concatenation of the ``(key, size)`` sources."""
        if len(sources) == 1 and sources[0][1] <= self.options.copy_threshold:
            await self._copy_object(sources[0][0], sources[0][1], dest, path)
            return
        parts = copy_parts(sources, self.options.copy_part_size)
        if len(parts) > self.options.max_parts:
            raise StorageError(f"{path}: {len(parts)} parts exceed the multipart limit")
        await self._multipart(parts, dest, path, sum(size for _, size in sources))

    async def assemble(
        self, segments: Sequence[Segment], dest: str, path: str, merged: Callable[[int, int], str]
    ) -> list[str]:
        """``dest`` becomes the file the segments make up; returns the keys of intermediate
        segments it wrote (named by ``merged(start, end)``) when one multipart upload could
        not take every part: groups of segments are first merged into larger segments."""
        created: list[str] = []
        current = list(segments)
        while (
            len(copy_parts(_sources(current), self.options.copy_part_size)) > self.options.max_parts
        ):
            groups = _groups(current, self.options)
            if len(groups) == len(current):
                raise StorageError(f"{path}: too many parts for one object")
            merged_segments: list[Segment] = []
            for group in groups:
                if len(group) == 1:
                    merged_segments.append(group[0])
                    continue
                start, end = group[0].start, group[-1].end
                key = merged(start, end)
                await self.copy(_sources(group), key, path)
                created.append(key)
                merged_segments.append(Segment(key, start, end, group[-1].modified))
            current = merged_segments
        await self.copy(_sources(current), dest, path)
        return created

    async def _copy_object(self, source: str, size: int, dest: str, path: str) -> None:
        client = await self._connection.client()
        async with self._connection.call(
            "copy", path, self._connection.options.transfer_timeout(size)
        ):
            await client.copy_object(
                Bucket=self._bucket.name,
                Key=dest,
                CopySource={"Bucket": self._bucket.name, "Key": source},
            )

    async def _multipart(self, parts: list[CopyPart], dest: str, path: str, size: int) -> None:
        client = await self._connection.client()
        async with self._connection.call("copy", path):
            created = await client.create_multipart_upload(Bucket=self._bucket.name, Key=dest)
        upload_id = created["UploadId"]
        slots = asyncio.Semaphore(self.options.concurrency)

        async def copy_part(number: int, part: CopyPart) -> CompletedPartTypeDef:
            timeout = self._connection.options.transfer_timeout(part.last - part.first + 1)
            async with slots, self._connection.call("copy", path, timeout):
                reply = await client.upload_part_copy(
                    Bucket=self._bucket.name,
                    Key=dest,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self._bucket.name, "Key": part.key},
                    CopySourceRange=part.range,
                )
            return {"PartNumber": number, "ETag": reply["CopyPartResult"].get("ETag", "")}

        try:
            completed = await _all_or_none(
                [copy_part(number, part) for number, part in enumerate(parts, 1)]
            )
            timeout = self._connection.options.transfer_timeout(size)
            async with self._connection.call("copy", path, timeout):
                await client.complete_multipart_upload(
                    Bucket=self._bucket.name,
                    Key=dest,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": list(completed)},
                )
        except BaseException:
            await asyncio.shield(self.abort_upload(dest, upload_id))
            raise

    async def abort_upload(self, key: str, upload_id: str) -> None:
        client = await self._connection.client()
        with contextlib.suppress(StorageError):
            async with self._connection.call("abort", key, _ABORT_TIMEOUT):
                await client.abort_multipart_upload(
                    Bucket=self._bucket.name, Key=key, UploadId=upload_id
                )

    async def abort_stale_uploads(self, prefix: str, older_than: dt.timedelta) -> int:
        """Abort the multipart uploads below ``prefix`` started before ``older_than`` ago."""
        client = await self._connection.client()
        cutoff = dt.datetime.now(dt.UTC) - older_than
        stale: list[tuple[str, str]] = []
        markers: dict[str, str] = {}
        while True:
            async with self._connection.call("list multipart uploads", prefix or "/"):
                reply = await client.list_multipart_uploads(
                    Bucket=self._bucket.name,
                    Prefix=prefix,
                    **markers,  # type: ignore[arg-type]
                )
            for upload in reply.get("Uploads", ()):
                initiated = upload.get("Initiated")
                if initiated is not None and initiated < cutoff:
                    stale.append((upload["Key"], upload["UploadId"]))
            if not reply.get("IsTruncated"):
                break
            markers = {
                "KeyMarker": reply.get("NextKeyMarker", ""),
                "UploadIdMarker": reply.get("NextUploadIdMarker", ""),
            }
        for key, upload_id in stale:
            await self.abort_upload(key, upload_id)
        if stale:
            _log.info("aborted %d stale multipart upload(s)", len(stale))
        return len(stale)


async def _all_or_none(
    copies: list[Coroutine[Any, Any, CompletedPartTypeDef]],
) -> list[CompletedPartTypeDef]:
    """The results of every copy; the first failure cancels the others and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(copy) for copy in copies]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


def _sources(segments: Sequence[Segment]) -> list[tuple[str, int]]:
    return [(segment.key, segment.size) for segment in segments]


def _groups(segments: Sequence[Segment], options: CopyOptions) -> list[list[Segment]]:
    """Runs of consecutive segments, each copyable by one multipart upload."""
    groups: list[list[Segment]] = [[]]
    parts = 0
    for segment in segments:
        count = len(copy_parts([(segment.key, segment.size)], options.copy_part_size))
        if parts + count > options.max_parts and groups[-1]:
            groups.append([])
            parts = 0
        groups[-1].append(segment)
        parts += count
    return groups
