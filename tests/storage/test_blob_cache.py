"""The hybrid tier's blob cache (``drift.storage.cache``) on a real directory, fed by in-memory
streams standing for S3 reads: fills are published whole and verified or not at all, LRU
eviction by size, rebuild after a restart, coalesced fills. The same cache in front of a real S3
server, through the registry, is tested in tests/clients/test_s3_pull.py."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from drift.oci.digest import Digest
from drift.storage.cache import BlobCache

KIB = 1 << 10
CHUNK = 64 * KIB


def digest_of(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


async def chunks_of(data: bytes, gate: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    """``data`` in chunks; with a ``gate``, the second half waits until it is set."""
    for start in range(0, len(data), CHUNK):
        if gate is not None and start >= len(data) // 2:
            await gate.wait()
        yield data[start : start + CHUNK]


async def fill(cache: BlobCache, data: bytes, digest: Digest | None = None) -> bytes:
    out = b"".join(
        [chunk async for chunk in cache.fill(digest or digest_of(data), len(data), chunks_of(data))]
    )
    assert out == data  # what the client gets, whatever the cache does
    return out


def cached(cache: BlobCache) -> dict[str, bytes]:
    """Every published blob, by hex digest."""
    return {
        os.path.basename(item.path): Path(item.path).read_bytes()
        for item in cache.directory.files()
    }


def temporaries(cache: BlobCache) -> list[str]:
    return os.listdir(cache.directory.tmp)


def read(path: str) -> bytes:
    return Path(path).read_bytes()


async def eventually(condition: object, within: float = 5.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def cache_at(tmp_path: Path, limit: int = 1 << 30) -> BlobCache:
    return BlobCache(tmp_path / "cache", limit, touch_after=0).open()


async def test_a_fill_is_published_whole_after_the_last_byte(
    tmp_path: Path, rng: random.Random
) -> None:
    cache = cache_at(tmp_path)
    data = rng.randbytes(20 * CHUNK + 123)
    digest = digest_of(data)
    gate = asyncio.Event()
    received = bytearray()
    stream = cache.fill(digest, len(data), chunks_of(data, gate))
    async for chunk in stream:
        received += chunk
        if len(received) >= len(data) // 2 and not gate.is_set():
            assert await cache.lookup(digest) is None  # half-way: nothing under its name
            assert len(temporaries(cache)) == 1
            gate.set()
    assert received == data
    hit = await cache.lookup(digest)
    assert hit is not None
    assert hit.size == len(data)
    assert read(hit.path) == data
    assert temporaries(cache) == []
    assert (cache.stats.fills, cache.stats.filled_bytes, cache.stats.hits) == (1, len(data), 1)


async def test_bytes_that_do_not_match_the_digest_are_not_kept(
    tmp_path: Path, rng: random.Random
) -> None:
    cache = cache_at(tmp_path)
    data = rng.randbytes(5 * CHUNK)
    corrupt = data[:-1] + bytes([data[-1] ^ 1])
    wrong = digest_of(data)
    out = [chunk async for chunk in cache.fill(wrong, len(corrupt), chunks_of(corrupt))]
    assert b"".join(out) == corrupt  # the client verifies the digest itself
    assert cached(cache) == {}
    assert temporaries(cache) == []
    assert cache.stats.fills_discarded == 1


async def test_a_stream_abandoned_half_way_leaves_nothing(
    tmp_path: Path, rng: random.Random
) -> None:
    cache = cache_at(tmp_path)
    data = rng.randbytes(16 * CHUNK)
    stream = cache.fill(digest_of(data), len(data), chunks_of(data))
    for _ in range(5):
        await anext(stream)
    assert len(temporaries(cache)) == 1
    await stream.aclose()  # the client went away
    await eventually(lambda: temporaries(cache) == [])
    assert cached(cache) == {}
    assert cache.stats.fills_discarded == 1


async def test_a_failing_source_leaves_nothing(tmp_path: Path, rng: random.Random) -> None:
    cache = cache_at(tmp_path)
    data = rng.randbytes(8 * CHUNK)

    async def failing() -> AsyncIterator[bytes]:
        yield data[:CHUNK]
        raise ConnectionResetError("S3 went away")

    received = bytearray()
    try:
        async for chunk in cache.fill(digest_of(data), len(data), failing()):
            received += chunk
    except ConnectionResetError:
        pass
    else:
        raise AssertionError("the failure must reach the client")
    assert received == data[:CHUNK]
    await eventually(lambda: temporaries(cache) == [])
    assert cached(cache) == {}


async def test_least_recently_used_blobs_are_evicted_to_stay_under_the_limit(
    tmp_path: Path, rng: random.Random
) -> None:
    size = 100 * KIB
    cache = cache_at(tmp_path, limit=3 * size + 10)
    blobs = [rng.randbytes(size) for _ in range(4)]
    for data in blobs[:3]:
        await fill(cache, data)
        await asyncio.sleep(0.01)  # distinct modification times
    assert await cache.lookup(digest_of(blobs[0])) is not None  # a recent use of the oldest
    await asyncio.sleep(0.01)

    await fill(cache, blobs[3])

    kept = cached(cache)
    assert set(kept) == {digest_of(blobs[i]).hex for i in (0, 2, 3)}  # blobs[1]: least recent
    assert sum(len(data) for data in kept.values()) <= cache.limit
    assert (cache.stats.evictions, cache.stats.evicted_bytes) == (1, size)
    assert await cache.lookup(digest_of(blobs[1])) is None


async def test_a_blob_larger_than_the_cache_streams_without_a_copy(
    tmp_path: Path, rng: random.Random
) -> None:
    cache = cache_at(tmp_path, limit=4 * CHUNK)
    small = rng.randbytes(2 * CHUNK)
    await fill(cache, small)
    await fill(cache, rng.randbytes(5 * CHUNK))
    assert set(cached(cache)) == {digest_of(small).hex}  # nothing evicted for it either
    assert cache.stats.evictions == 0


async def test_a_restart_rebuilds_from_the_directory(tmp_path: Path, rng: random.Random) -> None:
    size = 64 * KIB
    first = cache_at(tmp_path)
    blobs = [rng.randbytes(size) for _ in range(4)]
    for data in blobs:
        await fill(first, data)
        await asyncio.sleep(0.01)
    tmp = Path(first.directory.tmp)
    # what a crashed process left (its pid is gone), and what a live worker is writing
    ended = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await ended.wait()
    dead = ended.pid
    (tmp / f"{'a' * 16}.{dead}.x1").write_bytes(b"partial")
    (tmp / f"{'b' * 16}.{os.getpid()}.x2").write_bytes(b"in progress")

    again = BlobCache(tmp_path / "cache", 2 * size, touch_after=0).open()

    assert set(cached(again)) == {digest_of(data).hex for data in blobs[2:]}  # the newest two
    assert again.stats.bytes == 2 * size
    assert sorted(os.listdir(tmp)) == [f"{'b' * 16}.{os.getpid()}.x2"]
    hit = await again.lookup(digest_of(blobs[3]))
    assert hit is not None
    assert read(hit.path) == blobs[3]


async def test_concurrent_fills_of_one_blob_write_it_once(
    tmp_path: Path, rng: random.Random
) -> None:
    cache = cache_at(tmp_path)
    data = rng.randbytes(32 * CHUNK)
    digest = digest_of(data)
    gate = asyncio.Event()

    async def read() -> bytes:
        stream = cache.fill(digest, len(data), chunks_of(data, gate))
        return b"".join([chunk async for chunk in stream])

    first = asyncio.create_task(read())
    second = asyncio.create_task(read())
    await asyncio.sleep(0.05)
    assert len(temporaries(cache)) == 1  # the second request streams without a copy
    gate.set()
    assert await first == data
    assert await second == data
    assert cached(cache) == {digest.hex: data}
    assert cache.stats.fills == 1
