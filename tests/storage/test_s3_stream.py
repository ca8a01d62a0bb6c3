"""Segments streamed while they are written (``FileWriter.expect``) against a real S3 server
(SeaweedFS): the PUT starts before the bytes are all there, its CRC32 travels in a trailer that
S3 checks, a body cut short stores only what came, and a streamed PUT that fails is stored
from memory instead."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore import httpchecksum
from botocore.exceptions import ClientError

from drift.storage.driver import StorageError, WriterBusyError
from drift.storage.s3 import S3Driver
from drift.storage.s3.buffers import StreamedBody
from drift.storage.s3.keys import segment_name
from tests.support.s3nodes import (
    DATA,
    MIB,
    SEGMENTS,
    Node,
    Operations,
    WrongCrc32,
    payload,
    read_all,
    record,
    segment_keys,
)
from tests.support.seaweedfs import SeaweedFS


def _segment_puts(operations: Operations) -> list[int]:
    """The sizes of the segment PUTs sent so far."""
    return [
        size
        for name, url, _, size in operations.calls
        if name == "PutObject" and "segments/" in url
    ]


async def _segment_put_sent(driver: S3Driver) -> asyncio.Event:
    """An event set when ``driver`` sends a segment PUT."""
    sent = asyncio.Event()

    def seen(params: dict[str, Any], **_: Any) -> None:
        if "segments/" in params.get("url_path", ""):
            sent.set()

    client = await driver.connection.client()
    client.meta.events.register("before-call.s3.PutObject", seen)
    return sent


def _key(driver: Any, start: int, end: int) -> str:
    return f"{driver.test_prefix}/{SEGMENTS}{segment_name(start, end)}"


async def test_an_announced_segment_is_sent_before_its_bytes_are_all_written(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    driver = nodes()  # part_size 5 MiB
    operations = await record(driver)
    sent = await _segment_put_sent(driver)
    data = payload(7 * MIB)
    writer = await driver.writer(DATA, append=False)
    await writer.expect(len(data))
    await writer.write(data[:MIB])
    async with asyncio.timeout(5):
        await sent.wait()  # the first part's PUT runs: 4 MiB are still to come
    assert segment_keys(seaweedfs, driver) == {}
    for start in range(MIB, len(data), MIB):
        await writer.write(data[start : start + MIB])
    await writer.close()
    assert segment_keys(seaweedfs, driver) == {
        segment_name(0, 5 * MIB): 5 * MIB,
        segment_name(5 * MIB, 7 * MIB): 2 * MIB,
    }
    assert _segment_puts(operations) == [5 * MIB, 2 * MIB]
    assert await read_all(driver, DATA) == data


async def test_a_streamed_segment_follows_the_tail_it_replaces(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    first, second = nodes(), nodes()
    data = payload(6 * MIB)
    writer = await first.writer(DATA, append=False)
    await writer.write(data[:MIB])
    await writer.close()  # a 1 MiB tail
    writer = await second.writer(DATA, append=True)
    await writer.expect(5 * MIB)
    for start in range(MIB, len(data), MIB):
        await writer.write(data[start : start + MIB])
    await writer.close()
    # the part starts where the tail started, holds its bytes, and the tail is gone
    assert segment_keys(seaweedfs, second) == {
        segment_name(0, 5 * MIB): 5 * MIB,
        segment_name(5 * MIB, 6 * MIB): MIB,
    }
    assert await read_all(second, DATA) == data


async def test_a_body_of_unknown_length_streams_its_parts_once_it_is_long_enough(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    """Without a length (chunked transfer encoding) a part is sent once ``min_part_size`` of it
    is held; the part the body ends in is stored whole."""
    prefix = nodes().test_prefix  # type: ignore[attr-defined]
    driver = S3Driver(seaweedfs.settings(prefix, part_size=10 * MIB))
    driver.test_prefix = prefix  # type: ignore[attr-defined]
    try:
        sent = await _segment_put_sent(driver)
        data = payload(23 * MIB)
        writer = await driver.writer(DATA, append=False)
        await writer.expect(None)
        for start in range(0, 4 * MIB, MIB):
            await writer.write(data[start : start + MIB])
        await asyncio.sleep(0.2)
        assert not sent.is_set()  # 4 MiB held: it could still be a small body
        await writer.write(data[4 * MIB : 5 * MIB])
        async with asyncio.timeout(5):
            await sent.wait()  # 5 MiB held: the part's PUT runs, 5 MiB are still to come
        for start in range(5 * MIB, len(data), MIB):
            await writer.write(data[start : start + MIB])
        await writer.close()
        assert segment_keys(seaweedfs, driver) == {
            segment_name(0, 10 * MIB): 10 * MIB,
            segment_name(10 * MIB, 20 * MIB): 10 * MIB,
            segment_name(20 * MIB, 23 * MIB): 3 * MIB,
        }
        assert await read_all(driver, DATA) == data
    finally:
        await driver.close()


async def test_a_body_cut_short_stores_only_what_came(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes()
    sent = await _segment_put_sent(driver)
    data = payload(3 * MIB)
    writer = await driver.writer(DATA, append=False)
    await writer.expect(5 * MIB)
    await writer.write(data)
    async with asyncio.timeout(5):
        await sent.wait()
    await writer.close()  # the client went away after 3 MiB of the 5 announced
    assert segment_keys(seaweedfs, driver) == {segment_name(0, 3 * MIB): 3 * MIB}
    assert await read_all(driver, DATA) == data


@pytest.mark.parametrize(("earlier", "accepted"), [("same", True), ("other", False)])
async def test_a_streamed_store_that_fails_is_stored_from_memory(
    seaweedfs: SeaweedFS, nodes: Node, earlier: str, accepted: bool
) -> None:
    """The streamed PUT is refused (``If-None-Match``: the key exists); the writer stores the
    bytes from its buffer, which accepts what this very payload made and nothing else."""
    driver = nodes()
    data = payload(2 * MIB)
    stored = data if earlier == "same" else payload(2 * MIB, seed=1)
    client, bucket, key = seaweedfs.client(), driver.connection.bucket, _key(driver, 0, len(data))
    writer = await driver.writer(DATA, append=False)
    client.put_object(Bucket=bucket, Key=key, Body=stored)  # what a lost reply or a rival left
    await writer.expect(len(data))
    if accepted:
        await writer.write(data)  # the last byte announced: the segment is stored now
        await writer.close()
        assert await read_all(driver, DATA) == data
    else:
        with pytest.raises(WriterBusyError):
            await writer.write(data)
        with pytest.raises(WriterBusyError):  # and again at close: the bytes are not stored
            await writer.close()
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == stored


async def test_s3_refuses_a_streamed_body_whose_trailer_does_not_match(
    seaweedfs: SeaweedFS, nodes: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = nodes()
    data = bytearray(payload(MIB))
    key = _key(driver, 0, len(data))
    monkeypatch.setitem(httpchecksum._CHECKSUM_CLS, "crc32", WrongCrc32)
    with pytest.raises(StorageError) as refused:
        await driver.bucket.put_stream(key, DATA, StreamedBody(data, len(data), len(data)))
    assert isinstance(refused.value.__cause__, ClientError)
    # AWS names it BadDigest; SeaweedFS InvalidDigest
    assert refused.value.__cause__.response["Error"]["Code"] in {"BadDigest", "InvalidDigest"}
    assert seaweedfs.keys(key) == {}
    monkeypatch.undo()
    await driver.bucket.put_stream(key, DATA, StreamedBody(data, len(data), len(data)))
    assert seaweedfs.keys(key) == {key: len(data)}


async def test_a_streamed_body_starts_over_for_a_retry() -> None:
    buffer = bytearray(b"abcdef")
    body = StreamedBody(buffer, 6, 2)
    assert await body.read(4) == b"ab"
    reading = asyncio.ensure_future(body.read(4))
    await asyncio.sleep(0)
    assert not reading.done()  # waits for bytes not written yet
    body.filled(6)
    assert await reading == b"cdef"
    assert await body.read(4) == b""
    body.seek(0)
    assert await body.read(-1) == b"abcdef"
