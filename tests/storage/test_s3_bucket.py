"""The S3 driver and the bucket: registry:2's key layout both ways, and an endpoint that is
down or silent, which must give a ``StorageError`` within seconds, never a hang."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from drift.storage.driver import StorageError
from drift.storage.s3 import S3Driver
from tests.support.seaweedfs import SeaweedFS, new_prefix

LINK = "/docker/registry/v2/repositories/library/app/_layers/sha256/abcd/link"
BLOB = "/docker/registry/v2/blobs/sha256/ab/abcd/data"


@pytest.mark.parametrize("root", ["", "/{prefix}/", "{prefix}"])
async def test_keys_are_registry2s(seaweedfs: SeaweedFS, root: str) -> None:
    prefix = new_prefix()
    driver = S3Driver(seaweedfs.settings(root.format(prefix=prefix)))
    try:
        await driver.put_content(BLOB.replace("abcd", prefix), b"written by drift")
    finally:
        await driver.close()
    key = f"{prefix}/" if root else ""
    key += f"docker/registry/v2/blobs/sha256/ab/{prefix}/data"
    assert seaweedfs.keys(key) == {key: len(b"written by drift")}


async def test_objects_written_by_registry2_are_served_unchanged(seaweedfs: SeaweedFS) -> None:
    prefix = new_prefix()
    client = seaweedfs.client()
    bucket = seaweedfs.settings().bucket
    # the keys registry:2's S3 driver writes with rootdirectory: /<prefix>
    client.put_object(Bucket=bucket, Key=f"{prefix}{LINK}", Body=b"sha256:abcd")
    client.put_object(Bucket=bucket, Key=f"{prefix}{BLOB}", Body=b"layer bytes")
    driver = S3Driver(seaweedfs.settings(f"/{prefix}"))
    try:
        assert await driver.get_content(LINK) == b"sha256:abcd"
        assert b"".join([chunk async for chunk in driver.read_stream(BLOB, 6)]) == b"bytes"
        assert (await driver.stat(BLOB)).size == len(b"layer bytes")
        assert await driver.list("/docker/registry/v2/repositories") == [
            "/docker/registry/v2/repositories/library"
        ]
        walked = [info.path async for info in driver.walk("/docker/registry/v2/blobs")]
        assert walked == [
            "/docker/registry/v2/blobs/sha256",
            "/docker/registry/v2/blobs/sha256/ab",
            "/docker/registry/v2/blobs/sha256/ab/abcd",
            BLOB,
        ]
    finally:
        await driver.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung S3 endpoint)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: nothing listens there


async def timed_failure(driver: S3Driver) -> tuple[float, str]:
    started = time.monotonic()
    try:
        with pytest.raises(StorageError) as caught:
            await driver.stat("/docker/registry/v2")
        return time.monotonic() - started, str(caught.value)
    finally:
        await driver.close()


async def test_an_endpoint_down_or_silent_fails_within_seconds(
    seaweedfs: SeaweedFS, silent_port: int
) -> None:
    down = S3Driver(seaweedfs.settings(endpoint=f"http://127.0.0.1:{dead_port()}"))
    silent = S3Driver(seaweedfs.settings(endpoint=f"http://127.0.0.1:{silent_port}"))
    (down_seconds, down_error), (silent_seconds, silent_error) = await asyncio.gather(
        timed_failure(down), timed_failure(silent)
    )
    assert down_seconds < 4, down_error
    assert "unreachable" in down_error
    assert "127.0.0.1" in down_error
    assert silent_seconds < 8, silent_error  # the default deadline of one request: 6 s
    assert "did not answer" in silent_error
