"""The storage-driver contract, modeled on CNCF distribution's ``StorageDriver``.

Paths are absolute, slash-separated and rooted at the driver's root (``/docker/registry/v2/...``).
Every driver must pass ``tests/storage/test_driver_suite.py``. Storage is the source of truth for
registry content, so the contract is strict about atomicity:

- ``put_content`` replaces a file atomically: readers see the old or the new bytes, never a mix,
  and a crash leaves no partial file at ``path``.
- ``move`` is atomic at the destination and overwrites it.
- a ``FileWriter`` appends to one file; data only counts once ``commit`` returned (durable).
  ``cancel`` removes what was written. A writer holds an exclusive lock on its path: a second
  writer on the same path raises ``WriterBusyError`` until the first one is closed.
- a ``DirectWriter`` (optional capability) writes a whole file that nothing shows before its
  ``complete``: the registry streams a blob whose digest it knows straight to its final path.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = [
    "DirectWriter",
    "FileInfo",
    "FileWriter",
    "InvalidPathError",
    "PathNotFoundError",
    "StorageDriver",
    "StorageError",
    "WriterBusyError",
]


class StorageError(Exception):
    """Base class of every storage failure a driver reports."""


class PathNotFoundError(StorageError):
    """Nothing exists at the path."""

    def __init__(self, path: str) -> None:
        super().__init__(f"path not found: {path}")
        self.path = path


class InvalidPathError(StorageError):
    """The path is not absolute, or contains empty, ``.`` or ``..`` segments."""


class WriterBusyError(StorageError):
    """Another writer holds the path (a concurrent PATCH on the same upload)."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    modified: dt.datetime
    is_dir: bool


class FileWriter(ABC):
    """An append-only writer on one file, created by ``StorageDriver.writer``."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Bytes in the file so far, including what this writer appended."""

    async def expect(self, count: int | None) -> None:  # noqa: B027 (a hint: ignoring it is right)
        """``count`` bytes are about to be written (a request body of known length; None: of
        unknown length), so a driver may start storing them as they come; fewer may come (a
        body cut short)."""

    @abstractmethod
    async def write(self, data: bytes | memoryview) -> None:
        """Append ``data``. Bytes written may not be durable before ``commit``."""

    @abstractmethod
    async def commit(self) -> None:
        """Make everything written durable (fsync on disk). The writer stays usable."""

    @abstractmethod
    async def cancel(self) -> None:
        """Delete the file and release the writer."""

    @abstractmethod
    async def close(self) -> None:
        """Release the writer (and its lock). What was written so far stays."""


class DirectWriter(ABC):
    """Writes one whole file, created by ``StorageDriver.direct_writer``: nothing is visible
    at its path until ``complete`` returned, then all of it at once (replacing what was there);
    ``abort`` leaves the path as it was. Not resumable: a writer lives within one request."""

    @abstractmethod
    async def write(self, data: bytes | memoryview) -> None:
        """Append ``data``."""

    @abstractmethod
    async def complete(self) -> None:
        """Publish everything written at the path, atomically."""

    @abstractmethod
    async def abort(self) -> None:
        """Discard what was written; the writer is unusable afterwards. Idempotent."""


class StorageDriver(ABC):
    """About ten async operations plus optional capabilities (``local_path``, ``redirect_url``)."""

    name: str = "abstract"
    # Chunk size below which appending is costly (an object store's minimum part size):
    # advertised to clients as OCI-Chunk-Min-Length. None: any size is fine.
    min_chunk_length: int | None = None

    @abstractmethod
    async def get_content(self, path: str) -> bytes:
        """The whole content of a (small) file; raises ``PathNotFoundError``."""

    @abstractmethod
    async def put_content(self, path: str, data: bytes) -> None:
        """Atomically create or replace the file at ``path``, creating parent directories."""

    @abstractmethod
    def read_stream(
        self, path: str, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes (to the end when None) from ``offset`` in chunks of at most
        ``chunk_size`` bytes (as the store delivers them: not every chunk is full).

        Raises ``PathNotFoundError`` on the first iteration if nothing is at ``path``.
        """

    @abstractmethod
    async def writer(self, path: str, append: bool) -> FileWriter:
        """An exclusive appending writer; ``append=False`` truncates, ``True`` resumes."""

    @abstractmethod
    async def stat(self, path: str) -> FileInfo:
        """Size and modification time of a file or directory; raises ``PathNotFoundError``."""

    @abstractmethod
    async def list(self, path: str) -> list[str]:
        """Absolute paths of the direct children of a directory, sorted; raises if absent."""

    @abstractmethod
    async def move(self, source: str, dest: str) -> None:
        """Atomically move a file, replacing ``dest``; raises ``PathNotFoundError``."""

    @abstractmethod
    async def delete(self, path: str) -> None:
        """Delete a file or a directory tree; raises ``PathNotFoundError`` if absent."""

    @abstractmethod
    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Every file and directory below ``path`` in lexical depth-first order."""

    def direct_writer(self, path: str, size: int | None = None) -> DirectWriter | None:
        """A writer publishing ``path`` whole at completion, when the driver has a cheaper
        way to do that than a ``writer`` then a ``move`` (an object store: no copy); None.
        ``size``: how many bytes will be written, when known."""
        del path, size
        return None

    def local_path(self, path: str) -> str | None:
        """The OS path of a file for zero-copy sends, or None when the driver has none."""
        del path
        return None

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        """A URL a client can fetch the content from directly (presigned), or None."""
        del path, method
        return None

    async def purge_incomplete(self, older_than: dt.timedelta) -> int:
        """Remove what interrupted writes older than ``older_than`` left where no path shows it
        (an object store's open multipart uploads); how many. Run by the upload purge."""
        del older_than
        return 0

    async def prepare(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Make ready at start-up what the first request would otherwise wait for (clients,
        loaded models); nothing is sent to the store."""

    async def close(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release connections and threads."""
