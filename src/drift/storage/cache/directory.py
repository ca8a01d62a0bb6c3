"""The cache directory on disk: blob files, their temporary files, eviction (blocking calls).

::

    <cache_dir>/blobs/<alg>/<hex[:2]>/<hex>     a complete, verified blob
    <cache_dir>/tmp/<hex[:16]>.<pid>.<random>   a blob being written by process <pid>

The directory is the index: a file under ``blobs/`` exists only once its bytes were written,
checked against the digest and fsynced, and it got there by an atomic ``rename``; no partial blob
is ever visible under its name, even after a crash. A file's modification time is its last use
(``lookup`` moves it forward), so the least recently used blobs are the oldest files; atime is
not used, since most file systems are mounted ``relatime`` or ``noatime``.

Several worker processes share one directory without talking to each other: each one counts the
bytes by listing the directory when it needs the total, a blob filled twice at the same time is
renamed into place twice with identical bytes, and a file that another process evicted (or
renamed) between two calls is simply missing, never an error. A file evicted while it is being
sent stays readable through the descriptor already open on it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from drift.oci.digest import Digest, Hasher, new_hasher

__all__ = ["CacheDirectory", "CachedFile", "Eviction", "TempBlob"]

STALE_TEMP_AGE: Final = 24 * 3600.0  # a temporary file this old is abandoned whoever wrote it


@dataclass(frozen=True, slots=True)
class CachedFile:
    path: str
    size: int
    used: float  # modification time: the last use


@dataclass(frozen=True, slots=True)
class Eviction:
    files: int  # how many blobs were removed
    removed: int  # their bytes
    remaining: int  # bytes left in the cache


class TempBlob:
    """A blob being written under ``tmp/``, hashed on the way; ``commit`` publishes it."""

    def __init__(self, directory: CacheDirectory, digest: Digest) -> None:
        self.digest = digest
        self.final = directory.path_of(digest)
        prefix = f"{digest.hex[:16]}.{os.getpid()}."
        self._fd, self.path = tempfile.mkstemp(dir=directory.tmp, prefix=prefix)
        self._hasher: Hasher = new_hasher(digest.algorithm)
        self.written = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._hasher.update(data)
        self.written += len(data)

    def commit(self, size: int) -> bool:
        """Publish the blob if it is ``size`` bytes with the right digest; else discard it."""
        if self.written != size or self._hasher.hexdigest() != self.digest.hex:
            self.discard()
            return False
        try:
            os.fsync(self._fd)  # the bytes reach the disk before the name does
            os.close(self._fd)
            self._fd = -1
            os.makedirs(os.path.dirname(self.final), exist_ok=True)
            os.replace(self.path, self.final)
        except BaseException:
            self.discard()
            raise
        return True

    def discard(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class CacheDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = str(root / "blobs")
        self.tmp = str(root / "tmp")

    def path_of(self, digest: Digest) -> str:
        return f"{self.blobs}/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}"

    def prepare(self) -> None:
        """Create the directories and remove what crashed writers left in ``tmp/``."""
        os.makedirs(self.blobs, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        now = time.time()
        with os.scandir(self.tmp) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    age = now - entry.stat(follow_symlinks=False).st_mtime
                    if age > STALE_TEMP_AGE or not _writer_alive(entry.name):
                        os.unlink(entry.path)

    def lookup(self, digest: Digest, touch_after: float) -> CachedFile | None:
        """The cached blob, marked as used now (unless it was within ``touch_after`` s)."""
        path = self.path_of(digest)
        try:
            info = os.stat(path)
            now = time.time()
            if now - info.st_mtime >= touch_after:
                os.utime(path, (now, now))
        except FileNotFoundError:
            return None
        return CachedFile(path, info.st_size, now)

    def remove(self, digest: Digest) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(digest))

    def files(self) -> list[CachedFile]:
        found: list[CachedFile] = []
        for parent, _, names in os.walk(self.blobs):
            for name in names:
                path = os.path.join(parent, name)
                with contextlib.suppress(FileNotFoundError):
                    info = os.stat(path)
                    found.append(CachedFile(path, info.st_size, info.st_mtime))
        return found

    def evict(self, limit: int) -> Eviction:
        """Remove the least recently used blobs until at most ``limit`` bytes remain."""
        files = self.files()
        total = sum(item.size for item in files)
        removed = count = 0
        for item in sorted(files, key=lambda item: item.used):
            if total - removed <= limit:
                break
            with contextlib.suppress(FileNotFoundError):  # another process was first
                os.unlink(item.path)
                count += 1
            removed += item.size
        return Eviction(count, removed, total - removed)

    def reserve(self, digest: Digest, size: int, limit: int) -> tuple[TempBlob, Eviction]:
        """Room for ``size`` more bytes within ``limit``, and the temporary file to fill."""
        eviction = self.evict(max(0, limit - size))
        return TempBlob(self, digest), eviction


def _writer_alive(name: str) -> bool:
    """Whether the process named in a temporary file's name still runs (this host's pids)."""
    fields = name.split(".")
    if len(fields) < 3 or not fields[1].isdigit():
        return False
    try:
        os.kill(int(fields[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
