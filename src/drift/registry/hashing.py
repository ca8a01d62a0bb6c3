"""Running digests of uploads in progress, kept per process.

The digest of a streamed upload is computed while the data arrives, so a commit never reads the
data again. ``hashlib`` objects cannot cross processes, so a worker that did not see the start of
an upload (another worker or node did, or the server restarted) catches up by hashing the stored
bytes it missed. Entries are keyed by upload id and the offset they cover.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from drift.oci.digest import Hasher, new_hasher
from drift.storage.driver import StorageDriver
from drift.storage.executor import run_blocking

__all__ = ["STREAMING_ALGORITHM", "HasherCache", "hash_stored"]

# The algorithm hashed while streaming; others (sha512) are computed from storage at commit.
STREAMING_ALGORITHM: Final = "sha256"
_MAX_ENTRIES: Final = 1024


class HasherCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[int, Hasher]] = OrderedDict()

    def take(self, upload_id: str) -> tuple[int, Hasher] | None:
        return self._entries.pop(upload_id, None)

    def put(self, upload_id: str, offset: int, hasher: Hasher) -> None:
        self._entries[upload_id] = (offset, hasher)
        self._entries.move_to_end(upload_id)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

    def discard(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)

    async def hasher_at(
        self, driver: StorageDriver, upload_id: str, path: str, offset: int
    ) -> Hasher:
        """A streaming hasher covering exactly the first ``offset`` stored bytes."""
        cached = self.take(upload_id)
        if cached is not None and cached[0] <= offset:
            covered, hasher = cached
        else:
            covered, hasher = 0, new_hasher(STREAMING_ALGORITHM)
        if covered < offset:
            await hash_stored(driver, path, hasher, covered, offset - covered)
        return hasher


async def hash_stored(
    driver: StorageDriver, path: str, hasher: Hasher, offset: int, length: int
) -> None:
    async for chunk in driver.read_stream(path, offset, length, chunk_size=4 << 20):
        await run_blocking(hasher.update, chunk)
