"""The in-memory storage driver: the reference semantics of the contract, used by tests.

Files live in a dict keyed by driver path; directories are implicit (a directory exists while a
file exists below it). Every operation completes without yielding to the event loop, so each is
atomic, as the contract requires of ``put_content`` and ``move``.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from drift.storage.driver import (
    FileInfo,
    FileWriter,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    WriterBusyError,
)
from drift.storage.pathcheck import ROOT, check_dir_path, check_file_path, parent_of

__all__ = ["InMemoryDriver"]

_EPOCH: Final = dt.datetime.fromtimestamp(0, tz=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _prefix(directory: str) -> str:
    return ROOT if directory == ROOT else f"{directory}/"


@dataclass(slots=True)
class _File:
    data: bytearray
    modified: dt.datetime = field(default_factory=_now)


class _InMemoryWriter(FileWriter):
    def __init__(self, driver: InMemoryDriver, path: str, file: _File) -> None:
        self._driver = driver
        self._path = path
        self._file = file
        self._closed = False

    @property
    def size(self) -> int:
        return len(self._file.data)

    async def write(self, data: bytes | memoryview) -> None:
        self._check_open()
        self._file.data += data
        self._file.modified = _now()

    async def commit(self) -> None:
        self._check_open()

    async def cancel(self) -> None:
        self._check_open()
        self._driver._drop(self._path, self._file)
        await self.close()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._driver._unlock(self._path)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"writer of {self._path} is closed")


class InMemoryDriver(StorageDriver):
    """A ``StorageDriver`` holding everything in process memory."""

    name = "inmemory"

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        self._writers: set[str] = set()

    async def get_content(self, path: str) -> bytes:
        return bytes(self._file(path).data)

    async def put_content(self, path: str, data: bytes) -> None:
        self._claim(path)
        self._files[path] = _File(bytearray(data))

    async def read_stream(
        self, path: str, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        if offset < 0 or (length is not None and length < 0) or chunk_size <= 0:
            raise ValueError("offset and length must be >= 0, chunk_size > 0")
        data = self._file(path).data
        end = len(data) if length is None else min(len(data), offset + length)
        for position in range(offset, end, chunk_size):
            yield bytes(data[position : min(position + chunk_size, end)])

    async def writer(self, path: str, append: bool) -> FileWriter:
        check_file_path(path)
        if path in self._writers:
            raise WriterBusyError(f"another writer holds {path}")
        file = self._files.get(path)
        if file is None:
            if append:
                raise PathNotFoundError(path)
            self._claim(path)
            file = self._files[path] = _File(bytearray())
        elif not append:
            file.data.clear()
            file.modified = _now()
        self._writers.add(path)
        return _InMemoryWriter(self, path, file)

    async def stat(self, path: str) -> FileInfo:
        check_dir_path(path)
        file = self._files.get(path)
        if file is not None:
            return FileInfo(path=path, size=len(file.data), modified=file.modified, is_dir=False)
        below = self._below(path)
        if not below and path != ROOT:
            raise PathNotFoundError(path)
        modified = max((self._files[key].modified for key in below), default=_EPOCH)
        return FileInfo(path=path, size=0, modified=modified, is_dir=True)

    async def list(self, path: str) -> list[str]:
        return self._children(path)

    async def move(self, source: str, dest: str) -> None:
        self._file(source)
        self._claim(dest)
        if dest != source:
            self._files[dest] = self._files.pop(source)

    async def delete(self, path: str) -> None:
        check_file_path(path)
        if self._files.pop(path, None) is not None:
            return
        below = self._below(path)
        if not below:
            raise PathNotFoundError(path)
        for key in below:
            del self._files[key]

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        pending = [iter(self._children(path))]
        while pending:
            child = next(pending[-1], None)
            if child is None:
                pending.pop()
                continue
            try:
                info = await self.stat(child)
            except PathNotFoundError:
                continue
            yield info
            if info.is_dir:
                pending.append(iter(self._children(child, missing_ok=True)))

    def _file(self, path: str) -> _File:
        check_file_path(path)
        file = self._files.get(path)
        if file is None:
            raise PathNotFoundError(path)
        return file

    def _below(self, directory: str) -> builtins.list[str]:
        prefix = _prefix(directory)
        return [key for key in self._files if key.startswith(prefix)]

    def _children(self, directory: str, *, missing_ok: bool = False) -> builtins.list[str]:
        check_dir_path(directory)
        prefix = _prefix(directory)
        names = {key[len(prefix) :].split("/", 1)[0] for key in self._below(directory)}
        if not names and directory != ROOT and not missing_ok:
            raise PathNotFoundError(directory)
        return sorted(prefix + name for name in names)

    def _claim(self, path: str) -> None:
        """Check that a file may exist at ``path``: no file above it, no directory at it."""
        check_file_path(path)
        ancestor = parent_of(path)
        while ancestor != ROOT:
            if ancestor in self._files:
                raise StorageError(f"{path}: {ancestor} is a file")
            ancestor = parent_of(ancestor)
        if self._below(path):
            raise StorageError(f"{path}: is a directory")

    def _drop(self, path: str, file: _File) -> None:
        if self._files.get(path) is file:
            del self._files[path]

    def _unlock(self, path: str) -> None:
        self._writers.discard(path)
