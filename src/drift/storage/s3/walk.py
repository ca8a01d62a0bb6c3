"""``walk`` from one flat listing: S3 key order turned into lexical depth-first order.

A listing without delimiter gives every key below a prefix in one pass (1,000 per request),
but not in the order ``walk`` promises: S3 sorts keys by their bytes, so ``a-z/f`` comes before
``a/b`` ('-' < '/'), while depth-first lexical order visits ``a`` and all below it before
``a-z`` (SeaweedFS happens to list in that order already). That order is the byte order of
paths with '/' read as the lowest character (``_order``).

Entries are therefore held in a heap and released once no later key can precede them: a later
key (greater in byte order) can only sort lower in walk order by having '/' where the current
key has a character below '/', so everything below ``_bound(key)`` is final. Only names that
extend a sibling's name with such a character ('-', '.') are ever held back, and only until the
listing passes the sibling. Directories are implied by keys; a segmented file (``keys``) is
one entry whose size is the sum of its segments.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from drift.storage.driver import FileInfo, StorageError
from drift.storage.s3.keys import parse_segment_name, segmented_file_name
from drift.storage.s3.segments import ListedObject, resolve_segments

__all__ = ["walk_listing"]

_log = logging.getLogger(__name__)


def _order(relative: str) -> str:
    return relative.replace("/", "\0")


def _bound(relative: str) -> str:
    """A lower bound of the walk order of every entry a later key can bring."""
    for index, char in enumerate(relative):
        if char < "/":
            return _order(relative[:index]) + "\0"
    return _order(relative)


@dataclass(slots=True)
class _Segmented:
    relative: str
    objects: list[ListedObject] = field(default_factory=list)


class _Reorder:
    def __init__(self, base: str) -> None:
        self._base = base.rstrip("/")
        self._heap: list[tuple[str, int, FileInfo]] = []
        self._sequence = itertools.count()

    def push(self, relative: str, size: int, modified: dt.datetime, is_dir: bool) -> None:
        info = FileInfo(f"{self._base}/{relative}", size, modified, is_dir)
        heapq.heappush(self._heap, (_order(relative), next(self._sequence), info))

    def release(self, bound: str | None) -> list[FileInfo]:
        released: list[FileInfo] = []
        while self._heap and (bound is None or self._heap[0][0] < bound):
            released.append(heapq.heappop(self._heap)[2])
        return released


def _split(relative: str) -> tuple[list[str], bool]:
    """The path components of the file a key belongs to, and whether the key is a segment."""
    parts = relative.split("/")
    if len(parts) >= 2 and parse_segment_name(parts[-1]) is not None:
        name = segmented_file_name(parts[-2])
        if name is not None:
            return [*parts[:-2], name], True
    return parts, False


async def walk_listing(
    objects: AsyncIterator[ListedObject], prefix: str, base: str
) -> AsyncGenerator[FileInfo, None]:
    """The walk of the directory ``base`` from the listing of ``prefix`` (its keys' prefix)."""
    reorder = _Reorder(base)
    chain: list[str] = []  # directories of the previous key
    last_plain: str | None = None
    pending: _Segmented | None = None

    def finish(segmented: _Segmented) -> None:
        try:
            resolved = resolve_segments(segmented.relative, segmented.objects)
        except StorageError as exc:
            _log.warning("walk skips %s/%s: %s", base, segmented.relative, exc)
            return
        if resolved is not None:
            reorder.push(segmented.relative, resolved.size, resolved.modified, False)

    async for item in objects:
        relative = item.key[len(prefix) :]
        parts, is_segment = _split(relative)
        file_relative = "/".join(parts)
        if pending is not None and not (is_segment and pending.relative == file_relative):
            finish(pending)
            pending = None
        directories = parts[:-1]
        shared = 0
        while shared < min(len(chain), len(directories)) and chain[shared] == directories[shared]:
            shared += 1
        for depth in range(shared, len(directories)):
            reorder.push("/".join(directories[: depth + 1]), 0, item.modified, True)
        chain = directories
        if not is_segment:
            reorder.push(file_relative, item.size, item.modified, False)
            last_plain = file_relative
        elif file_relative != last_plain:  # a plain object wins over segments of its name
            if pending is None:
                pending = _Segmented(file_relative)
            pending.objects.append(item)
        bound = _bound(relative)
        if pending is not None:
            bound = min(bound, _order(pending.relative))
        for info in reorder.release(bound):
            yield info
    if pending is not None:
        finish(pending)
    for info in reorder.release(None):
        yield info
