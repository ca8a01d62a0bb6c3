"""What a driver path is in the bucket: a plain object, a segmented file, or nothing.

A file is the object at its key (what ``put_content``, ``move`` and registry:2 write) or, while
a ``FileWriter`` writes it, the segments under ``<key>!segments/`` (``keys``). When both exist
the plain object wins: a writer resuming a plain file deletes it only once segments hold all
of its bytes, and ``put_content`` replaces a file in one request. Segments a plain object
hides are left to the next delete of the path.

Deleting leaves no empty "folders" behind: S3 has none, but servers backed by a file system
(SeaweedFS) keep a directory entry after its last object is deleted and list it as a common
prefix. Deleting the marker key ``<prefix>/`` removes such an entry and is a no-op everywhere
else (an absent key, or a directory that still holds objects).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from drift.storage.s3.keys import KeyMap
from drift.storage.s3.objects import Bucket, ObjectInfo
from drift.storage.s3.segments import ListedObject, SegmentedFile, resolve_segments

__all__ = ["Files", "StoredFile"]


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    plain: ObjectInfo | None
    segmented: SegmentedFile | None

    @property
    def size(self) -> int:
        if self.plain is not None:
            return self.plain.size
        return 0 if self.segmented is None else self.segmented.size

    @property
    def modified(self) -> dt.datetime:
        if self.plain is not None:
            return self.plain.modified
        assert self.segmented is not None
        return self.segmented.modified


def _markers(prefix: str, keys: list[str]) -> list[str]:
    """The "folder" keys of ``prefix`` and of every directory below it, deepest first."""
    folders = {prefix}
    for key in keys:
        end = key.rfind("/")
        while end >= len(prefix):
            folder = key[: end + 1]
            if folder in folders:
                break
            folders.add(folder)
            end = key.rfind("/", 0, end)
    return sorted(folders, key=lambda folder: (-folder.count("/"), folder))


class Files:
    def __init__(self, bucket: Bucket, keys: KeyMap) -> None:
        self.bucket = bucket
        self.keys = keys

    async def find(self, path: str) -> StoredFile | None:
        """The file at ``path``; None when there is none (or a directory)."""
        key = self.keys.key(path)
        plain = await self.bucket.head(key, path)
        if plain is not None:
            return StoredFile(key, plain, None)
        segmented = await self.segments(path)
        return None if segmented is None else StoredFile(key, None, segmented)

    async def find_resumed(self, path: str) -> StoredFile | None:
        """``find`` for a file that a writer resumes (an upload, usually segmented): one
        listing of the keys that start with the file's key answers for its plain object and
        its segments at once, where ``find`` asks for the object first, then lists."""
        key = self.keys.key(path)
        prefix = self.keys.segments_prefix(path)
        plain: ListedObject | None = None
        segments: list[ListedObject] = []
        async for item in self.bucket.list_objects(key, path):
            if item.key == key:
                plain = item
            elif item.key.startswith(prefix):
                segments.append(item)
        if plain is not None:
            return StoredFile(key, ObjectInfo(plain.size, plain.modified, ""), None)
        segmented = resolve_segments(path, segments)
        return None if segmented is None else StoredFile(key, None, segmented)

    async def segments(self, path: str) -> SegmentedFile | None:
        listed = await self.bucket.list_all(self.keys.segments_prefix(path), path)
        return resolve_segments(path, listed)

    async def remove_file(self, path: str) -> bool:
        """Delete the plain object and every segment of ``path``; False when there were none."""
        key = self.keys.key(path)
        plain, segments = await asyncio.gather(
            self.bucket.head(key, path), self.remove_segments(path)
        )
        if plain is not None:
            await self.bucket.delete([key], path)
        return plain is not None or segments > 0

    async def remove_segments(self, path: str) -> int:
        """Delete every object below ``path``'s segments prefix; returns how many."""
        prefix = self.keys.segments_prefix(path)
        keys = [item.key async for item in self.bucket.list_objects(prefix, path)]
        await self.remove_below(prefix, keys, path)
        return len(keys)

    async def remove_below(self, prefix: str, keys: list[str], path: str) -> None:
        """Delete the objects ``keys`` below ``prefix``, then their folders."""
        if not keys:
            return
        await self.bucket.delete(keys, path)
        await self.bucket.delete(_markers(prefix, keys), path)
