"""The segments of a written file: which stored objects make up its bytes, in order.

A writer only ever adds objects (every segment key is written once, see ``keys``) and deletes
the ones a newer segment covers afterwards, so a listing may hold leftovers of an interrupted
writer: a short tail ``[s, e1)`` that a longer tail or a part ``[s, e2)`` replaced. Reading a
listing takes, from offset 0 on, the longest segment starting at the current end and skips
every segment lying inside what was taken; a gap or a partial overlap means the objects were
not written by a writer of this design, and is reported instead of served.

Every segment but the last is at least ``MIN_PART_SIZE`` (S3's minimum part size), so that the
file can be assembled server-side with ``UploadPartCopy`` (``copy_parts``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from drift.storage.driver import StorageError
from drift.storage.s3.keys import parse_segment_name

__all__ = [
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "CopyPart",
    "ListedObject",
    "Segment",
    "SegmentedFile",
    "copy_parts",
    "resolve_segments",
]

MIN_PART_SIZE: Final = 5 << 20  # every multipart part but the last (S3 EntityTooSmall below)
MAX_PART_SIZE: Final = 5 << 30  # one part, and one CopyObject
MAX_PARTS: Final = 10_000


@dataclass(frozen=True, slots=True)
class ListedObject:
    key: str
    size: int
    modified: dt.datetime


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    start: int
    end: int
    modified: dt.datetime

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class SegmentedFile:
    segments: tuple[Segment, ...]  # in order, contiguous from 0
    stale: tuple[str, ...]  # keys covered by newer segments, to delete

    @property
    def size(self) -> int:
        return self.segments[-1].end if self.segments else 0

    @property
    def modified(self) -> dt.datetime:
        return max(segment.modified for segment in self.segments)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(segment.key for segment in self.segments) + self.stale


def resolve_segments(path: str, listed: Iterable[ListedObject]) -> SegmentedFile | None:
    """The file the segment objects listed under ``path``'s prefix make up; None if none."""
    candidates: list[Segment] = []
    stale: list[str] = []
    for item in listed:
        name = parse_segment_name(item.key.rpartition("/")[2])
        if name is None or item.size != name.end - name.start:
            stale.append(item.key)  # not a segment of this design: never served, removed
            continue
        candidates.append(Segment(item.key, name.start, name.end, item.modified))
    if not candidates:
        return None
    candidates.sort(key=lambda segment: (segment.start, -segment.end))
    taken: list[Segment] = []
    end = 0
    for segment in candidates:
        if segment.end <= end:
            stale.append(segment.key)
        elif segment.start == end:
            taken.append(segment)
            end = segment.end
        else:
            raise StorageError(
                f"{path}: stored segments are inconsistent at offset {end} "
                f"({segment.key.rpartition('/')[2]})"
            )
    if not taken:  # only empty segments
        return None
    return SegmentedFile(tuple(taken), tuple(stale))


@dataclass(frozen=True, slots=True)
class CopyPart:
    key: str
    first: int  # inclusive byte offsets in the source object
    last: int

    @property
    def range(self) -> str:
        return f"bytes={self.first}-{self.last}"


def copy_parts(sources: Sequence[tuple[str, int]], part_size: int) -> list[CopyPart]:
    """Parts copying ``(key, size)`` sources one after the other, at most ``part_size`` each.

    A source larger than ``part_size`` is split in equal ranges; with ``part_size`` at least
    twice ``MIN_PART_SIZE`` every range is then at least ``MIN_PART_SIZE``. A source smaller
    than that is one part, which is valid only last (``EntityTooSmall`` otherwise): callers
    pass segments, whose design guarantees it.
    """
    if part_size < 2 * MIN_PART_SIZE:
        raise ValueError("part_size must be at least twice the minimum part size")
    parts: list[CopyPart] = []
    for key, size in sources:
        count = max(1, math.ceil(size / part_size))
        step = max(1, math.ceil(size / count))
        parts.extend(
            CopyPart(key, first, min(first + step, size) - 1) for first in range(0, size, step)
        )
    return parts
