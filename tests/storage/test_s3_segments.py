"""The S3 driver's writer and moves against a real S3 server (SeaweedFS): segments, resumes on
another node, server-side assembly, cancel and purge. Each driver instance stands for a node;
the S3 operations each one sends are recorded from its botocore client's event hooks."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from drift.registry.purge import purge_uploads
from drift.storage.driver import PathNotFoundError, StorageError, WriterBusyError
from drift.storage.s3.client import ClientOptions
from drift.storage.s3.copy import CopyOptions
from drift.storage.s3.keys import segment_name
from tests.support.s3nodes import (
    DATA,
    MIB,
    SEGMENTS,
    Node,
    payload,
    read_all,
    record,
    segment_keys,
    write_file,
)
from tests.support.seaweedfs import SeaweedFS
from tests.support.wiretap import Wiretap

BLOB = "/docker/registry/v2/blobs/sha256/ab/abcd/data"
DATA_OPERATIONS = {"GetObject", "PutObject", "UploadPart"}  # what carries object bytes


async def test_small_commits_keep_a_single_tail(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes()
    writer = await driver.writer(DATA, append=False)
    for index in range(3):
        await writer.write(payload(100_000, index))
        await writer.commit()
    await writer.close()
    assert segment_keys(seaweedfs, driver) == {segment_name(0, 300_000): 300_000}
    plain = f"{driver.test_prefix}/{DATA[1:]}"  # type: ignore[attr-defined]
    assert plain not in seaweedfs.keys(plain)


async def test_parts_are_stored_as_soon_as_held(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes()
    operations = await record(driver)
    data = payload(12 * MIB)
    writer = await driver.writer(DATA, append=False)
    for start in range(0, len(data), MIB):
        await writer.write(data[start : start + MIB])
    assert segment_keys(seaweedfs, driver) == {
        segment_name(0, 5 * MIB): 5 * MIB,
        segment_name(5 * MIB, 10 * MIB): 5 * MIB,
    }
    await writer.commit()
    await writer.close()
    assert segment_keys(seaweedfs, driver)[segment_name(10 * MIB, 12 * MIB)] == 2 * MIB
    puts = [size for name, _, _, size in operations.calls if name == "PutObject"]
    assert max(puts) <= 5 * MIB  # memory held by the writer: about one part
    assert "GetObject" not in operations.names()
    assert await read_all(driver, DATA) == data


async def test_another_node_resumes_reading_back_only_the_tail(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    first, second, third = nodes(), nodes(), nodes()
    data = payload(7 * MIB)
    await write_file(first, data[: 3 * MIB])
    assert segment_keys(seaweedfs, first) == {segment_name(0, 3 * MIB): 3 * MIB}

    operations = await record(second)
    writer = await second.writer(DATA, append=True)
    assert writer.size == 3 * MIB
    assert "GetObject" not in operations.names()  # nothing is read before there is more to store
    await writer.write(data[3 * MIB : 6 * MIB])
    await writer.close()
    reads = [(key, span) for name, key, span, _ in operations.calls if name == "GetObject"]
    assert len(reads) == 1
    assert reads[0][0].endswith(segment_name(0, 3 * MIB))
    assert segment_keys(seaweedfs, first) == {  # parts are exactly part_size (one buffer)
        segment_name(0, 5 * MIB): 5 * MIB,
        segment_name(5 * MIB, 6 * MIB): MIB,
    }

    operations = await record(third)
    await write_file(third, data[6 * MIB :], append=True)
    reads = [key for name, key, _, _ in operations.calls if name == "GetObject"]
    assert len(reads) == 1  # only the tail after the last part
    assert reads[0].endswith(segment_name(5 * MIB, 6 * MIB))
    assert (await third.stat(DATA)).size == 7 * MIB
    assert await read_all(first, DATA) == data
    assert await read_all(first, DATA, 5 * MIB + 7, 2 * MIB) == data[5 * MIB + 7 : 7 * MIB + 7]
    stored = hashlib.sha256(await read_all(third, DATA)).hexdigest()
    assert stored == hashlib.sha256(data).hexdigest()


async def test_a_plain_file_is_converted_without_downloading_it(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    driver = nodes()
    old = payload(6 * MIB, 1)
    await driver.put_content(DATA, old)  # an upload that registry:2 started, say
    operations = await record(driver)
    await write_file(driver, b"more", append=True)
    assert "GetObject" not in operations.names()
    assert "CopyObject" in operations.names()
    assert segment_keys(seaweedfs, driver) == {
        segment_name(0, 6 * MIB): 6 * MIB,
        segment_name(6 * MIB, 6 * MIB + 4): 4,
    }
    assert await driver.get_content(DATA) == old + b"more"


async def test_move_assembles_the_segments_server_side(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes()
    data = payload(11 * MIB)
    await write_file(driver, data)
    assert len(segment_keys(seaweedfs, driver)) == 3
    operations = await record(driver)
    await driver.move(DATA, BLOB)
    assert not DATA_OPERATIONS & set(operations.names()), operations.names()
    assert operations.names().count("UploadPartCopy") == 3
    assert await driver.get_content(BLOB) == data
    assert segment_keys(seaweedfs, driver) == {}
    with pytest.raises(PathNotFoundError):
        await driver.stat(DATA)
    assert seaweedfs.multipart_uploads(driver.test_prefix) == []  # type: ignore[attr-defined]


async def test_a_single_segment_is_moved_with_one_copy(nodes: Node) -> None:
    driver = nodes()
    await write_file(driver, b"small blob")
    operations = await record(driver)
    await driver.move(DATA, BLOB)
    assert "CopyObject" in operations.names()
    assert not {"CreateMultipartUpload", *DATA_OPERATIONS} & set(operations.names())
    assert await driver.get_content(BLOB) == b"small blob"


async def test_a_large_object_is_copied_in_parts(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes(copy=CopyOptions(copy_threshold=6 * MIB, copy_part_size=10 * MIB))
    data = payload(25 * MIB)
    await driver.put_content(DATA, data)
    operations = await record(driver)
    await driver.move(DATA, BLOB)
    ranges = [span for name, _, span, _ in operations.calls if name == "UploadPartCopy"]
    assert len(ranges) == 3
    assert not DATA_OPERATIONS & set(operations.names())
    assert await driver.get_content(BLOB) == data
    assert seaweedfs.multipart_uploads(driver.test_prefix) == []  # type: ignore[attr-defined]


async def test_too_many_segments_for_one_upload_are_merged_first(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    driver = nodes(copy=CopyOptions(max_parts=2))
    data = payload(16 * MIB)
    await write_file(driver, data)
    assert len(segment_keys(seaweedfs, driver)) == 4
    await driver.move(DATA, BLOB)
    assert await driver.get_content(BLOB) == data
    assert segment_keys(seaweedfs, driver) == {}


async def test_cancel_deletes_every_segment(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes()
    await driver.put_content(DATA.replace("/data", "/startedat"), b"2024-01-01T00:00:00Z")
    await write_file(driver, payload(6 * MIB + 5))
    writer = await driver.writer(DATA, append=True)
    await writer.cancel()
    assert segment_keys(seaweedfs, driver) == {}
    parent = DATA.rsplit("/", 1)[0]
    assert await driver.list(parent) == [f"{parent}/startedat"]


async def test_purge_removes_abandoned_segments_and_multipart_uploads(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    driver = nodes()
    await driver.put_content(DATA.replace("/data", "/startedat"), b"2020-01-01T00:00:00Z")
    await write_file(driver, payload(6 * MIB))
    left_open = f"{driver.test_prefix}/{BLOB[1:]}"  # type: ignore[attr-defined]
    seaweedfs.client().create_multipart_upload(Bucket=driver.connection.bucket, Key=left_open)
    assert seaweedfs.multipart_uploads(driver.test_prefix)  # type: ignore[attr-defined]

    assert await purge_uploads(driver, dt.timedelta(0)) == 1
    assert seaweedfs.keys(f"{driver.test_prefix}/") == {}  # type: ignore[attr-defined]
    assert seaweedfs.multipart_uploads(driver.test_prefix) == []  # type: ignore[attr-defined]


async def test_two_nodes_storing_the_same_range_do_not_overwrite_each_other(
    nodes: Node,
) -> None:
    first, second = nodes(), nodes()
    await write_file(first, b"base")
    writer_a = await first.writer(DATA, append=True)
    writer_b = await second.writer(DATA, append=True)
    await writer_a.write(b"AAAA")
    await writer_b.write(b"BBBB")
    await writer_a.close()
    with pytest.raises(WriterBusyError):
        await writer_b.close()
    assert await second.get_content(DATA) == b"baseAAAA"


@pytest.mark.parametrize(("earlier", "accepted"), [(b"basesame", True), (b"baseXXXX", False)])
async def test_a_store_whose_reply_was_lost_is_accepted_once_retried(
    seaweedfs: SeaweedFS, nodes: Node, earlier: bytes, accepted: bool
) -> None:
    driver = nodes()
    await write_file(driver, b"base")
    writer = await driver.writer(DATA, append=True)
    await writer.write(b"same")
    # what an attempt of this store left when its reply was lost (or another writer stored)
    key = f"{driver.test_prefix}/{SEGMENTS}{segment_name(0, 8)}"  # type: ignore[attr-defined]
    seaweedfs.client().put_object(Bucket=driver.connection.bucket, Key=key, Body=earlier)
    if accepted:
        await writer.close()
    else:
        with pytest.raises(WriterBusyError):
            await writer.close()
    assert await driver.get_content(DATA) == earlier


async def test_an_s3_failure_mid_upload_leaves_it_resumable(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    data = payload(11 * MIB)
    with Wiretap(seaweedfs.ports["s3"]) as link:
        cut_off = nodes(endpoint=f"http://{link.host_port}", client=ClientOptions(max_attempts=1))
        writer = await cut_off.writer(DATA, append=False)
        for start in range(0, 6 * MIB, MIB):
            await writer.write(data[start : start + MIB])  # a part is stored, 1 MiB is held
    # the link to S3 is gone: storing the next part fails with a storage error, and so does
    # storing what is held at close
    for start in range(6 * MIB, 9 * MIB, MIB):
        await writer.write(data[start : start + MIB])  # held: nothing to store yet
    with pytest.raises(StorageError):
        await writer.write(data[9 * MIB : 10 * MIB])
    with pytest.raises(StorageError):
        await writer.close()

    resumed = nodes()
    assert (await resumed.stat(DATA)).size == 5 * MIB
    writer = await resumed.writer(DATA, append=True)
    await writer.write(data[5 * MIB :])
    await writer.close()
    assert await read_all(resumed, DATA) == data


@pytest.mark.parametrize("segmented", [True, False])
async def test_a_resumed_file_is_found_with_one_listing(nodes: Node, segmented: bool) -> None:
    driver = nodes()
    data = payload(6 * MIB)
    if segmented:
        await write_file(driver, data)
    else:
        await driver.put_content(DATA, data)
    operations = await record(driver)
    writer = await driver.writer(DATA, append=True)
    try:
        assert operations.names() == ["ListObjectsV2"]
        assert writer.size == len(data)
    finally:
        await writer.close()
