"""The storage-driver contract (``drift.storage.driver``), run against every driver.

A new driver joins the suite by adding one entry to ``DRIVERS``: an async context manager that
yields a fresh, empty driver (given the test's fixture request, for what it needs: a directory,
a server). The S3 driver runs against a real S3 server (SeaweedFS), below a prefix of its own.
Tests after the "filesystem driver only" marker pin what the filesystem driver owes on top of
the contract (distribution's on-disk layout, crash safety).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from drift.storage.driver import (
    FileInfo,
    InvalidPathError,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    WriterBusyError,
)
from drift.storage.filesystem import FilesystemDriver
from drift.storage.inmemory import InMemoryDriver
from drift.storage.s3 import S3Driver
from tests.support.seaweedfs import SeaweedFS, new_prefix

MIB = 1 << 20


@asynccontextmanager
async def filesystem_driver(request: pytest.FixtureRequest) -> AsyncIterator[StorageDriver]:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    driver = FilesystemDriver(tmp_path / "store")
    try:
        yield driver
    finally:
        await driver.close()


@asynccontextmanager
async def inmemory_driver(request: pytest.FixtureRequest) -> AsyncIterator[StorageDriver]:
    del request
    driver = InMemoryDriver()
    try:
        yield driver
    finally:
        await driver.close()


@asynccontextmanager
async def s3_driver(request: pytest.FixtureRequest) -> AsyncIterator[StorageDriver]:
    server: SeaweedFS = request.getfixturevalue("seaweedfs")
    driver = S3Driver(server.settings(new_prefix()))
    try:
        yield driver
    finally:
        await driver.close()


DRIVERS: dict[
    str, Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[StorageDriver]]
] = {
    "fs": filesystem_driver,
    "inmemory": inmemory_driver,
    "s3": s3_driver,
}


@pytest.fixture(params=sorted(DRIVERS))
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[StorageDriver]:
    async with DRIVERS[request.param](request) as instance:
        yield instance


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


async def read_all(
    driver: StorageDriver,
    path: str,
    offset: int = 0,
    length: int | None = None,
    chunk_size: int = MIB,
) -> list[bytes]:
    return [chunk async for chunk in driver.read_stream(path, offset, length, chunk_size)]


async def walk_all(driver: StorageDriver, path: str) -> list[FileInfo]:
    return [info async for info in driver.walk(path)]


def read_plain(path: str | Path) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def write_plain(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


# put_content / get_content


@pytest.mark.parametrize("size", [0, 1, 4096, 5 * MIB])
async def test_put_get_round_trip(driver: StorageDriver, size: int) -> None:
    data = payload(size)
    await driver.put_content("/docker/registry/v2/blobs/data", data)
    assert await driver.get_content("/docker/registry/v2/blobs/data") == data


async def test_put_overwrites_with_shorter_content(driver: StorageDriver) -> None:
    await driver.put_content("/a/link", b"sha256:" + b"1" * 64)
    await driver.put_content("/a/link", b"short")
    assert await driver.get_content("/a/link") == b"short"
    assert (await driver.stat("/a/link")).size == 5


async def test_put_accepts_names_of_the_registry_layout(driver: StorageDriver) -> None:
    path = "/docker/registry/v2/repositories/library/my-app_1.0/_manifests/tags/v1.2.3/link"
    await driver.put_content(path, b"sha256:abc")
    assert await driver.get_content(path) == b"sha256:abc"


async def test_concurrent_puts_of_one_path_leave_one_whole_value(driver: StorageDriver) -> None:
    values = [payload(256 * 1024, seed) for seed in range(12)]
    await driver.put_content("/race/file", values[0])
    seen: list[bytes] = []
    writing = True

    async def reader() -> None:
        while writing:
            seen.append(await driver.get_content("/race/file"))
            await asyncio.sleep(0)

    read_task = asyncio.create_task(reader())
    await asyncio.gather(*(driver.put_content("/race/file", value) for value in values))
    writing = False
    await read_task
    assert await driver.get_content("/race/file") in values
    assert seen
    assert all(value in values for value in seen)
    assert await driver.list("/race") == ["/race/file"]


# Errors: missing paths and invalid paths


async def test_every_operation_reports_a_missing_path(driver: StorageDriver) -> None:
    await driver.put_content("/present/file", b"x")
    missing = "/present/absent"
    with pytest.raises(PathNotFoundError) as caught:
        await driver.get_content(missing)
    assert caught.value.path == missing
    with pytest.raises(PathNotFoundError):
        await read_all(driver, missing)
    with pytest.raises(PathNotFoundError):
        await driver.writer(missing, append=True)
    with pytest.raises(PathNotFoundError):
        await driver.stat(missing)
    with pytest.raises(PathNotFoundError):
        await driver.list(missing)
    with pytest.raises(PathNotFoundError):
        await driver.move(missing, "/present/dest")
    with pytest.raises(PathNotFoundError):
        await driver.delete(missing)
    with pytest.raises(PathNotFoundError):
        await walk_all(driver, missing)
    assert await driver.list("/present") == ["/present/file"]


async def test_a_path_below_a_file_is_missing(driver: StorageDriver) -> None:
    await driver.put_content("/file", b"x")
    with pytest.raises(PathNotFoundError):
        await driver.get_content("/file/below")
    with pytest.raises(PathNotFoundError):
        await driver.stat("/file/below")
    with pytest.raises(PathNotFoundError):
        await driver.list("/file")
    with pytest.raises(PathNotFoundError):
        await walk_all(driver, "/file")


async def test_a_directory_is_not_a_file(driver: StorageDriver) -> None:
    await driver.put_content("/dir/file", b"x")
    with pytest.raises(PathNotFoundError):
        await driver.get_content("/dir")
    with pytest.raises(PathNotFoundError):
        await read_all(driver, "/dir")
    with pytest.raises(PathNotFoundError):
        await driver.move("/dir", "/elsewhere")
    assert await driver.get_content("/dir/file") == b"x"


INVALID_PATHS = [
    "",
    "relative",
    "relative/path",
    "//",
    "/a//b",
    "/a/",
    "/./a",
    "/a/.",
    "/a/../b",
    "/..",
    "/a\0b",
]


@pytest.mark.parametrize("path", INVALID_PATHS)
async def test_invalid_paths_are_refused_by_every_operation(
    driver: StorageDriver, path: str
) -> None:
    await driver.put_content("/a/b", b"x")
    with pytest.raises(InvalidPathError):
        await driver.get_content(path)
    with pytest.raises(InvalidPathError):
        await driver.put_content(path, b"y")
    with pytest.raises(InvalidPathError):
        await read_all(driver, path)
    with pytest.raises(InvalidPathError):
        await driver.writer(path, append=False)
    with pytest.raises(InvalidPathError):
        await driver.stat(path)
    with pytest.raises(InvalidPathError):
        await driver.list(path)
    with pytest.raises(InvalidPathError):
        await driver.move("/a/b", path)
    with pytest.raises(InvalidPathError):
        await driver.move(path, "/a/c")
    with pytest.raises(InvalidPathError):
        await driver.delete(path)
    with pytest.raises(InvalidPathError):
        await walk_all(driver, path)
    if driver.local_path("/a/b") is not None:
        with pytest.raises(InvalidPathError):
            driver.local_path(path)
    assert await driver.get_content("/a/b") == b"x"
    assert await driver.list("/") == ["/a"]


async def test_the_root_is_a_directory_only(driver: StorageDriver) -> None:
    assert await driver.list("/") == []
    assert await walk_all(driver, "/") == []
    assert (await driver.stat("/")).is_dir
    with pytest.raises(InvalidPathError):
        await driver.put_content("/", b"x")
    with pytest.raises(InvalidPathError):
        await driver.get_content("/")
    with pytest.raises(InvalidPathError):
        await driver.writer("/", append=False)
    with pytest.raises(InvalidPathError):
        await driver.delete("/")
    await driver.put_content("/top", b"x")
    with pytest.raises(InvalidPathError):
        await driver.move("/top", "/")
    assert await driver.list("/") == ["/top"]


# read_stream

STREAM_SIZE = 10_000


@pytest.mark.parametrize(
    ("offset", "length", "chunk_size"),
    [
        (0, None, MIB),
        (0, None, 1000),
        (0, None, 3333),
        (1, None, 4096),
        (5000, None, 7),
        (5000, 100, 7),
        (5000, 100, MIB),
        (0, 300, 1),
        (9999, None, MIB),
        (9999, 5, MIB),
        (0, 20_000, 4096),
    ],
)
async def test_read_stream_ranges(
    driver: StorageDriver, offset: int, length: int | None, chunk_size: int
) -> None:
    data = payload(STREAM_SIZE)
    await driver.put_content("/blob/data", data)
    chunks = await read_all(driver, "/blob/data", offset, length, chunk_size)
    end = STREAM_SIZE if length is None else min(STREAM_SIZE, offset + length)
    assert b"".join(chunks) == data[offset:end]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)  # as they arrive, not padded


@pytest.mark.parametrize(
    ("offset", "length"),
    [(STREAM_SIZE, None), (STREAM_SIZE, 10), (STREAM_SIZE + 1, None), (0, 0), (42, 0)],
)
async def test_read_stream_at_or_past_the_end_yields_nothing(
    driver: StorageDriver, offset: int, length: int | None
) -> None:
    await driver.put_content("/blob/data", payload(STREAM_SIZE))
    assert await read_all(driver, "/blob/data", offset, length) == []


async def test_read_stream_of_an_empty_file_yields_nothing(driver: StorageDriver) -> None:
    await driver.put_content("/blob/empty", b"")
    assert await read_all(driver, "/blob/empty") == []


@pytest.mark.parametrize(
    ("offset", "length", "chunk_size"), [(-1, None, MIB), (0, -1, MIB), (0, None, 0)]
)
async def test_read_stream_rejects_negative_arguments(
    driver: StorageDriver, offset: int, length: int | None, chunk_size: int
) -> None:
    await driver.put_content("/blob/data", b"data")
    with pytest.raises(ValueError, match="offset"):
        await read_all(driver, "/blob/data", offset, length, chunk_size)


async def test_read_stream_stopped_early_can_be_reopened(driver: StorageDriver) -> None:
    data = payload(3 * 4096)
    await driver.put_content("/blob/data", data)
    stream = driver.read_stream("/blob/data", chunk_size=4096)
    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert first == data[:4096]
    assert b"".join(await read_all(driver, "/blob/data")) == data


# writer


async def test_writer_creates_the_file_and_its_parents(driver: StorageDriver) -> None:
    writer = await driver.writer("/uploads/u1/data", append=False)
    assert writer.size == 0
    await writer.write(b"hello ")
    await writer.write(memoryview(b"world"))
    assert writer.size == 11
    await writer.commit()
    await writer.close()
    assert await driver.get_content("/uploads/u1/data") == b"hello world"
    assert await driver.list("/uploads") == ["/uploads/u1"]


async def test_writer_resumes_an_existing_file(driver: StorageDriver) -> None:
    first = await driver.writer("/uploads/u1/data", append=False)
    await first.write(b"part one,")
    await first.commit()
    await first.close()
    second = await driver.writer("/uploads/u1/data", append=True)
    assert second.size == 9
    await second.write(b" part two")
    assert second.size == 18
    await second.commit()
    await second.close()
    assert await driver.get_content("/uploads/u1/data") == b"part one, part two"
    assert (await driver.stat("/uploads/u1/data")).size == 18


async def test_writer_without_append_truncates(driver: StorageDriver) -> None:
    await driver.put_content("/uploads/u1/data", b"old content")
    writer = await driver.writer("/uploads/u1/data", append=False)
    assert writer.size == 0
    await writer.write(b"new")
    await writer.commit()
    await writer.close()
    assert await driver.get_content("/uploads/u1/data") == b"new"


async def test_writer_commit_keeps_the_writer_usable(driver: StorageDriver) -> None:
    writer = await driver.writer("/uploads/u1/data", append=False)
    for index in range(3):
        await writer.write(payload(100_000, index))
        await writer.commit()
        assert (await driver.stat("/uploads/u1/data")).size == 100_000 * (index + 1)
    await writer.close()
    expected = b"".join(payload(100_000, index) for index in range(3))
    assert await driver.get_content("/uploads/u1/data") == expected


async def test_writer_cancel_removes_the_file_and_releases_the_lock(
    driver: StorageDriver,
) -> None:
    await driver.put_content("/uploads/u1/startedat", b"2024")
    writer = await driver.writer("/uploads/u1/data", append=False)
    await writer.write(b"partial")
    await writer.cancel()
    with pytest.raises(PathNotFoundError):
        await driver.stat("/uploads/u1/data")
    assert await driver.list("/uploads/u1") == ["/uploads/u1/startedat"]
    again = await driver.writer("/uploads/u1/data", append=False)
    await again.close()


async def test_writer_close_keeps_the_data_and_ends_the_writer(driver: StorageDriver) -> None:
    writer = await driver.writer("/uploads/u1/data", append=False)
    await writer.write(b"kept")
    await writer.close()
    await writer.close()
    with pytest.raises(StorageError):
        await writer.write(b"more")
    with pytest.raises(StorageError):
        await writer.commit()
    with pytest.raises(StorageError):
        await writer.cancel()
    assert await driver.get_content("/uploads/u1/data") == b"kept"


async def test_writer_is_exclusive_until_closed(driver: StorageDriver) -> None:
    holder = await driver.writer("/uploads/u1/data", append=False)
    await holder.write(b"first writer")
    await holder.commit()  # what an object store holds back until then is seen by no reader
    with pytest.raises(WriterBusyError):
        await driver.writer("/uploads/u1/data", append=True)
    with pytest.raises(WriterBusyError):
        await driver.writer("/uploads/u1/data", append=False)
    assert await driver.get_content("/uploads/u1/data") == b"first writer"
    other = await driver.writer("/uploads/u2/data", append=False)
    await other.close()
    await holder.close()
    resumed = await driver.writer("/uploads/u1/data", append=True)
    assert resumed.size == len(b"first writer")
    await resumed.close()


async def test_writer_data_is_readable_while_writing(driver: StorageDriver) -> None:
    writer = await driver.writer("/uploads/u1/data", append=False)
    await writer.write(b"abc")
    await writer.commit()
    assert b"".join(await read_all(driver, "/uploads/u1/data")) == b"abc"
    await writer.close()


# stat, list, walk


async def test_stat_of_a_file_and_a_directory(driver: StorageDriver) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    await driver.put_content("/dir/file", b"12345")
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    file_info = await driver.stat("/dir/file")
    assert (file_info.path, file_info.size, file_info.is_dir) == ("/dir/file", 5, False)
    assert before <= file_info.modified <= after
    dir_info = await driver.stat("/dir")
    assert (dir_info.path, dir_info.is_dir) == ("/dir", True)
    assert dir_info.modified.tzinfo is not None


async def test_list_gives_sorted_direct_children(driver: StorageDriver) -> None:
    for path in ["/r/b", "/r/a/x", "/r/a/y/z", "/r/c-d", "/r/C", "/other/q"]:
        await driver.put_content(path, b"x")
    assert await driver.list("/r") == ["/r/C", "/r/a", "/r/b", "/r/c-d"]
    assert await driver.list("/r/a") == ["/r/a/x", "/r/a/y"]
    assert await driver.list("/") == ["/other", "/r"]


async def test_walk_is_lexical_depth_first(driver: StorageDriver) -> None:
    files = {"/t/a/b/c": 1, "/t/a/b/d": 2, "/t/a/e": 3, "/t/a-z/f": 4, "/t/b": 5}
    for path, size in files.items():
        await driver.put_content(path, b"x" * size)
    infos = await walk_all(driver, "/t")
    assert [info.path for info in infos] == [
        "/t/a",
        "/t/a/b",
        "/t/a/b/c",
        "/t/a/b/d",
        "/t/a/e",
        "/t/a-z",
        "/t/a-z/f",
        "/t/b",
    ]
    for info in infos:
        assert info.is_dir == (info.path not in files)
        if not info.is_dir:
            assert info.size == files[info.path]
    assert [info.path for info in await walk_all(driver, "/t/a/b")] == ["/t/a/b/c", "/t/a/b/d"]
    assert [info.path for info in await walk_all(driver, "/")][:2] == ["/t", "/t/a"]


# move, delete


async def test_move_overwrites_and_creates_parents(driver: StorageDriver) -> None:
    await driver.put_content("/uploads/u1/data", b"blob bytes")
    await driver.put_content("/blobs/sha256/ab/abcd/data", b"old")
    await driver.move("/uploads/u1/data", "/blobs/sha256/ab/abcd/data")
    assert await driver.get_content("/blobs/sha256/ab/abcd/data") == b"blob bytes"
    with pytest.raises(PathNotFoundError):
        await driver.stat("/uploads/u1/data")
    await driver.move("/blobs/sha256/ab/abcd/data", "/new/deep/parent/data")
    assert await driver.get_content("/new/deep/parent/data") == b"blob bytes"


async def test_move_of_a_missing_source_leaves_the_destination(driver: StorageDriver) -> None:
    await driver.put_content("/dest", b"intact")
    with pytest.raises(PathNotFoundError):
        await driver.move("/missing", "/dest")
    assert await driver.get_content("/dest") == b"intact"


async def test_move_onto_itself_keeps_the_file(driver: StorageDriver) -> None:
    await driver.put_content("/same", b"content")
    await driver.move("/same", "/same")
    assert await driver.get_content("/same") == b"content"


async def test_delete_a_file(driver: StorageDriver) -> None:
    await driver.put_content("/d/one", b"1")
    await driver.put_content("/d/two", b"2")
    await driver.delete("/d/one")
    with pytest.raises(PathNotFoundError):
        await driver.get_content("/d/one")
    assert await driver.list("/d") == ["/d/two"]


async def test_delete_a_tree(driver: StorageDriver) -> None:
    for path in ["/repo/a/_layers/x/link", "/repo/a/_manifests/y/link", "/repo/b/link"]:
        await driver.put_content(path, b"x")
    await driver.delete("/repo/a")
    for path in ["/repo/a", "/repo/a/_layers/x/link"]:
        with pytest.raises(PathNotFoundError):
            await driver.stat(path)
    assert await driver.list("/repo") == ["/repo/b"]
    assert await driver.get_content("/repo/b/link") == b"x"


async def test_local_path_when_offered_holds_the_content(driver: StorageDriver) -> None:
    await driver.put_content("/blobs/data", b"zero copy")
    local = driver.local_path("/blobs/data")
    if local is None:
        assert driver.name != "filesystem"
        return
    assert read_plain(local) == b"zero copy"


# Filesystem driver only: distribution's on-disk layout and crash safety.


@pytest.fixture
async def fs_driver(tmp_path: Path) -> AsyncIterator[FilesystemDriver]:
    driver = FilesystemDriver(tmp_path / "store")
    yield driver
    await driver.close()


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.startswith(".tmp-")]


async def test_fs_paths_map_to_distribution_layout(fs_driver: FilesystemDriver) -> None:
    root = fs_driver.root
    blob = root / "docker/registry/v2/blobs/sha256/e3/e3b0c442/data"
    write_plain(blob, b"written by registry:2")
    path = "/docker/registry/v2/blobs/sha256/e3/e3b0c442/data"
    assert await fs_driver.get_content(path) == b"written by registry:2"
    assert b"".join(await read_all(fs_driver, path)) == b"written by registry:2"
    assert (await fs_driver.stat(path)).size == len(b"written by registry:2")
    assert await fs_driver.list("/docker/registry/v2/blobs/sha256/e3") == [
        "/docker/registry/v2/blobs/sha256/e3/e3b0c442"
    ]
    assert fs_driver.local_path(path) == str(blob)
    await fs_driver.put_content("/docker/registry/v2/repositories/r/_layers/link", b"sha256:e3")
    assert read_plain(root / "docker/registry/v2/repositories/r/_layers/link") == b"sha256:e3"


async def test_fs_leaves_no_temporary_files(fs_driver: FilesystemDriver) -> None:
    values = [payload(64 * 1024, seed) for seed in range(8)]
    await asyncio.gather(*(fs_driver.put_content("/race/file", value) for value in values))
    await fs_driver.put_content("/race/other", b"x")
    await fs_driver.move("/race/other", "/moved/other")
    assert temp_files(fs_driver.root) == []
    assert sorted(os.listdir(fs_driver.root / "race")) == ["file"]


async def test_fs_hides_temporary_files_of_a_crashed_put(fs_driver: FilesystemDriver) -> None:
    await fs_driver.put_content("/links/link", b"sha256:1")
    write_plain(fs_driver.root / "links" / ".tmp-0123456789abcdef", b"sha256:partial")
    assert await fs_driver.list("/links") == ["/links/link"]
    assert [info.path for info in await walk_all(fs_driver, "/")] == ["/links", "/links/link"]
    assert await fs_driver.get_content("/links/link") == b"sha256:1"


async def test_fs_failed_put_keeps_the_old_content(fs_driver: FilesystemDriver) -> None:
    await fs_driver.put_content("/dir/file/child", b"x")
    with pytest.raises(StorageError):
        await fs_driver.put_content("/dir/file", b"a directory is in the way")
    assert temp_files(fs_driver.root) == []
    assert await fs_driver.get_content("/dir/file/child") == b"x"


async def test_fs_writer_lock_holds_across_processes(fs_driver: FilesystemDriver) -> None:
    await fs_driver.put_content("/uploads/u1/data", b"")
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n",
        fs_driver.local_path("/uploads/u1/data") or "",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"locked\n"
        with pytest.raises(WriterBusyError):
            await fs_driver.writer("/uploads/u1/data", append=True)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        await asyncio.wait_for(holder.wait(), 10)
    writer = await fs_driver.writer("/uploads/u1/data", append=True)
    await writer.close()


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_fs_streams_and_writers_release_descriptors(fs_driver: FilesystemDriver) -> None:
    await fs_driver.put_content("/blob/data", payload(8 * 4096))
    baseline = open_descriptors()
    for _ in range(5):
        stream = fs_driver.read_stream("/blob/data", chunk_size=4096)
        await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        writer = await fs_driver.writer("/uploads/u/data", append=False)
        await writer.write(b"x")
        await writer.close()
        cancelled = await fs_driver.writer("/uploads/v/data", append=False)
        await cancelled.cancel()
    assert open_descriptors() == baseline


async def test_fs_cancelled_write_finishes_before_close(fs_driver: FilesystemDriver) -> None:
    writer = await fs_driver.writer("/uploads/u1/data", append=False)
    data = payload(16 * MIB)
    task = asyncio.create_task(writer.write(data))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.close()
    size = (await fs_driver.stat("/uploads/u1/data")).size
    assert size in (0, len(data))
    assert writer.size == size
