"""The filesystem storage driver: driver path ``/a/b`` is the file ``<root>/a/b``.

The mapping is the one of CNCF distribution's filesystem driver, so a registry:2 data directory is
served unchanged. Every blocking call runs in the storage executor. Atomic replacement is a
temporary file in the target directory (``.tmp-<uuid>``), fsync, ``os.replace`` and an fsync of
the directory; temporary files are never listed or walked.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import stat
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final, TypeVar

from drift.storage.driver import (
    FileInfo,
    FileWriter,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    WriterBusyError,
)
from drift.storage.executor import run_blocking
from drift.storage.pathcheck import ROOT, TEMP_PREFIX, check_dir_path, segments
from drift.storage.writeback import WRITEBACK_STEP, start_writeback

__all__ = ["FilesystemDriver"]

_T = TypeVar("_T")

_FILE_MODE: Final = 0o666
_READ_FLAGS: Final = os.O_RDONLY | os.O_CLOEXEC
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
_EPOCH: Final = dt.datetime.fromtimestamp(0, tz=dt.UTC)
_INLINE_READ_LIMIT: Final = 4096
_RWF_NOWAIT: Final[int | None] = getattr(os, "RWF_NOWAIT", None)


@contextmanager
def _translated(path: str, *, missing: bool = True) -> Iterator[None]:
    """Map OS errors to storage errors; ``missing`` maps ENOENT/ENOTDIR to PathNotFoundError."""
    try:
        yield
    except (FileNotFoundError, NotADirectoryError) as exc:
        if missing:
            raise PathNotFoundError(path) from exc
        raise StorageError(f"{path}: {exc.strerror or exc}") from exc
    except OSError as exc:
        raise StorageError(f"{path}: {exc.strerror or exc}") from exc


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(directory: str) -> None:
    """Create ``directory`` and its missing ancestors, making each new entry durable."""
    missing: list[str] = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        current = os.path.dirname(current)
    for new_dir in reversed(missing):
        try:
            os.mkdir(new_dir)
        except FileExistsError:
            if not os.path.isdir(new_dir):
                raise
        else:
            _fsync_dir(os.path.dirname(new_dir))


def _write_all(fd: int, data: bytes | memoryview) -> int:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]
    return len(data)


def _open_regular(os_path: str, path: str) -> int:
    """A read-only descriptor of the regular file at ``os_path``."""
    with _translated(path):
        fd = os.open(os_path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathNotFoundError(path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_descriptor(os_path: str, path: str) -> _Descriptor:
    # Built in the executor: if the awaiting task is cancelled, the garbage collector closes it.
    return _Descriptor(_open_regular(os_path, path))


def _info(path: str, st: os.stat_result) -> FileInfo:
    is_dir = stat.S_ISDIR(st.st_mode)
    modified = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC)
    return FileInfo(path=path, size=0 if is_dir else st.st_size, modified=modified, is_dir=is_dir)


def _child(parent: str, name: str) -> str:
    return f"/{name}" if parent == ROOT else f"{parent}/{name}"


class _Descriptor:
    """An OS file descriptor shared by the event loop and the executor threads.

    Operations run under a lock in the executor, so a close requested while an operation is in
    flight (a cancelled request) waits for it: the descriptor number is never reused under a
    running ``os.write``/``os.pread``.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._closing = False

    @property
    def closed(self) -> bool:
        return self._closing

    def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            with self._lock:
                if self._fd < 0:
                    raise StorageError("file is closed")
                return fn(self._fd, *args)
        finally:
            if self._closing:
                self._try_close()

    def close_soon(self) -> None:
        """Close now, or as soon as the operation in flight ends; never blocks."""
        self._closing = True
        self._try_close()

    def close_wait(self, before: Callable[[], None] | None = None) -> None:
        """Wait for the operation in flight, run ``before``, then close (executor only)."""
        self._closing = True
        with self._lock:
            try:
                if before is not None and self._fd >= 0:
                    before()
            finally:
                self._close_locked()

    def _try_close(self) -> None:
        if self._lock.acquire(blocking=False):
            try:
                self._close_locked()
            finally:
                self._lock.release()

    def _close_locked(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)


class _FilesystemWriter(FileWriter):
    def __init__(self, fd: int, os_path: str, path: str, size: int, new_entry: bool) -> None:
        self._fd = _Descriptor(fd)
        self._os_path = os_path
        self._path = path
        self._size = size
        self._dir_dirty = new_entry
        self._written_back = size  # offset up to which writeback has been started

    @property
    def size(self) -> int:
        return self._size

    async def write(self, data: bytes | memoryview) -> None:
        self._check_open()
        await run_blocking(self._fd.run, self._append, data)

    async def commit(self) -> None:
        self._check_open()
        await run_blocking(self._fd.run, self._sync)

    async def cancel(self) -> None:
        self._check_open()
        await run_blocking(self._fd.close_wait, self._unlink)

    async def close(self) -> None:
        if not self._fd.closed:
            await run_blocking(self._fd.close_wait, None)

    def _check_open(self) -> None:
        if self._fd.closed:
            raise StorageError(f"writer of {self._path} is closed")

    def _append(self, fd: int, data: bytes | memoryview) -> None:
        with _translated(self._path):
            self._size += _write_all(fd, data)
        if self._size - self._written_back >= WRITEBACK_STEP:
            start_writeback(fd, self._written_back, self._size - self._written_back)
            self._written_back = self._size

    def _sync(self, fd: int) -> None:
        with _translated(self._path):
            os.fsync(fd)
            if self._dir_dirty:
                _fsync_dir(os.path.dirname(self._os_path))
                self._dir_dirty = False

    def _unlink(self) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self._os_path)


def _open_writer(os_path: str, path: str, append: bool) -> _FilesystemWriter:
    created = False
    with _translated(path, missing=append):
        try:
            fd = os.open(os_path, _WRITE_FLAGS)
        except FileNotFoundError:
            if append:
                raise
            _make_dirs(os.path.dirname(os_path))
            fd = os.open(os_path, _WRITE_FLAGS | os.O_CREAT, _FILE_MODE)
            created = True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise WriterBusyError(f"another writer holds {path}") from exc
        with _translated(path):
            if os.fstat(fd).st_ino != os.stat(os_path).st_ino:
                # The file was cancelled or replaced between our open and our lock.
                raise WriterBusyError(f"{path} was replaced while opening a writer")
            if not append:
                os.ftruncate(fd, 0)
            size = os.fstat(fd).st_size
    except BaseException:
        os.close(fd)
        raise
    return _FilesystemWriter(fd, os_path, path, size, created)


# Blocking halves of the driver operations, run in the executor.


def _get_blocking(os_path: str, path: str) -> bytes:
    fd = _open_regular(os_path, path)
    with _translated(path), open(fd, "rb", closefd=True) as file:
        return file.read()


def _read_cached_small(os_path: str, path: str) -> bytes | None:
    """A small file's bytes when the page cache already holds them, else None.

    Link files are read on every manifest and blob request; an executor hop costs about twenty
    times such a read, so they are read on the event loop when ``preadv2(RWF_NOWAIT)`` can do it
    without waiting for the disk (the kernel answers EAGAIN instead). Anything else goes to the
    executor: files over ``_INLINE_READ_LIMIT`` and data that is not cached.
    """
    if _RWF_NOWAIT is None:
        return None
    fd = _open_regular(os_path, path)
    try:
        size = os.fstat(fd).st_size
        if size > _INLINE_READ_LIMIT:
            return None
        buffer = bytearray(size)
        try:
            read = os.preadv(fd, [buffer], 0, _RWF_NOWAIT) if size else 0
        except (BlockingIOError, OSError):
            return None
        return bytes(buffer) if read == size else None
    finally:
        os.close(fd)


def _put_blocking(os_path: str, path: str, data: bytes) -> None:
    directory = os.path.dirname(os_path)
    with _translated(path, missing=False):
        _make_dirs(directory)
        temp = os.path.join(directory, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, os_path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(directory)


def _stat_blocking(os_path: str, path: str) -> FileInfo:
    try:
        with _translated(path):
            return _info(path, os.stat(os_path))
    except PathNotFoundError:
        if path == ROOT:
            return FileInfo(path=ROOT, size=0, modified=_EPOCH, is_dir=True)
        raise


def _scan_blocking(os_path: str, path: str, missing_ok: bool) -> list[FileInfo]:
    """The children of a directory, sorted by name, without temporary files."""
    infos: list[FileInfo] = []
    try:
        with _translated(path), os.scandir(os_path) as entries:
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                with suppress(FileNotFoundError):
                    infos.append(_info(_child(path, entry.name), entry.stat()))
    except PathNotFoundError:
        if missing_ok or path == ROOT:
            return []
        raise
    infos.sort(key=lambda info: info.path)
    return infos


def _list_blocking(os_path: str, path: str) -> list[str]:
    """The sorted child paths of a directory, without temporary files (no stat per entry)."""
    try:
        with _translated(path):
            names = os.listdir(os_path)
    except PathNotFoundError:
        if path == ROOT:
            return []
        raise
    names.sort()
    return [_child(path, name) for name in names if not name.startswith(TEMP_PREFIX)]


def _move_blocking(os_source: str, source: str, os_dest: str, dest: str) -> None:
    with _translated(source):
        if not stat.S_ISREG(os.stat(os_source).st_mode):
            raise PathNotFoundError(source)
    directory = os.path.dirname(os_dest)
    with _translated(dest, missing=False):
        _make_dirs(directory)
    with _translated(source):
        os.replace(os_source, os_dest)
    with _translated(dest):
        _fsync_dir(directory)


def _ignore_vanished(function: object, path: str, exc_info: Any) -> None:
    del function, path
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def _delete_blocking(os_path: str, path: str) -> None:
    with _translated(path):
        if stat.S_ISDIR(os.lstat(os_path).st_mode):
            shutil.rmtree(os_path, onerror=_ignore_vanished)
        else:
            os.unlink(os_path)


class FilesystemDriver(StorageDriver):
    """A ``StorageDriver`` on a local directory (the ``fs`` backend)."""

    name = "filesystem"

    def __init__(self, root: Path | str) -> None:
        self._root = os.path.abspath(root)

    @property
    def root(self) -> Path:
        return Path(self._root)

    def _os_path(self, path: str) -> str:
        return os.path.join(self._root, *segments(path))

    def _os_dir(self, path: str) -> str:
        return self._root if check_dir_path(path) == ROOT else self._os_path(path)

    def local_path(self, path: str) -> str | None:
        return self._os_path(path)

    async def get_content(self, path: str) -> bytes:
        os_path = self._os_path(path)
        cached = _read_cached_small(os_path, path)
        if cached is not None:
            return cached
        return await run_blocking(_get_blocking, os_path, path)

    async def put_content(self, path: str, data: bytes) -> None:
        await run_blocking(_put_blocking, self._os_path(path), path, data)

    async def read_stream(
        self, path: str, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        if offset < 0 or (length is not None and length < 0) or chunk_size <= 0:
            raise ValueError("offset and length must be >= 0, chunk_size > 0")
        fd = await run_blocking(_open_descriptor, self._os_path(path), path)
        try:
            position = offset
            end = None if length is None else offset + length
            while end is None or position < end:
                size = chunk_size if end is None else min(chunk_size, end - position)
                chunk = await run_blocking(fd.run, os.pread, size, position)
                if not chunk:
                    break
                position += len(chunk)
                yield chunk
        finally:
            fd.close_soon()

    async def writer(self, path: str, append: bool) -> FileWriter:
        return await run_blocking(_open_writer, self._os_path(path), path, append)

    async def stat(self, path: str) -> FileInfo:
        return await run_blocking(_stat_blocking, self._os_dir(path), path)

    async def list(self, path: str) -> list[str]:
        return await run_blocking(_list_blocking, self._os_dir(path), path)

    async def move(self, source: str, dest: str) -> None:
        await run_blocking(_move_blocking, self._os_path(source), source, self._os_path(dest), dest)

    async def delete(self, path: str) -> None:
        await run_blocking(_delete_blocking, self._os_path(path), path)

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        entries = await run_blocking(_scan_blocking, self._os_dir(path), path, False)
        pending = [iter(entries)]
        while pending:
            info = next(pending[-1], None)
            if info is None:
                pending.pop()
                continue
            yield info
            if info.is_dir:
                below = await run_blocking(
                    _scan_blocking, self._os_path(info.path), info.path, True
                )
                pending.append(iter(below))
