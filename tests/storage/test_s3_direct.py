"""Direct writes of the S3 driver against a real S3 server (SeaweedFS): a blob streamed into a
multipart upload at its final key, visible only once complete, never copied; and the registry's
known-digest uploads that use them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from typing import Any

import pytest
from botocore import httpchecksum
from botocore.exceptions import ClientError

from drift.config.settings import RegistrySettings
from drift.oci.digest import parse_digest
from drift.oci.errors import ErrorCode, RegistryError
from drift.registry.service import Registry
from drift.storage import layout
from drift.storage.driver import PathNotFoundError
from drift.storage.s3 import S3Driver
from tests.support.s3nodes import (
    MIB,
    Node,
    Operations,
    WrongCrc32,
    payload,
    read_all,
    record,
)
from tests.support.seaweedfs import SeaweedFS, new_prefix

BLOB = "/docker/registry/v2/blobs/sha256/ab/abcd/data"
COPIES = {"CopyObject", "UploadPartCopy"}


def bodies(operations: Operations) -> list[tuple[str, int]]:
    """Bodies sent as buffers (botocore turns ``bytes`` into a file object, of size 0 here)."""
    return [(name, size) for name, _, _, size in operations.calls if size]


class _Body:
    """A request body read in the pieces a client would send."""

    def __init__(self, data: bytes, piece: int = 300_000) -> None:
        self._data = memoryview(data)
        self._piece = piece

    async def read(self, max_bytes: int) -> bytes:
        chunk = bytes(self._data[: min(max_bytes, self._piece)])
        self._data = self._data[len(chunk) :]
        return chunk


async def test_a_direct_write_is_invisible_until_complete_and_never_copied(nodes: Node) -> None:
    driver = nodes()
    operations = await record(driver)
    data = payload(12 * MIB + 5)
    writer = driver.direct_writer(BLOB)
    for start in range(0, len(data), MIB):
        await writer.write(data[start : start + MIB])
    with pytest.raises(PathNotFoundError):
        await driver.stat(BLOB)
    await writer.complete()
    assert await read_all(driver, BLOB) == data
    names = operations.names()
    assert names.count("UploadPart") == 3
    assert "CompleteMultipartUpload" in names
    assert not COPIES & set(names)
    assert max(size for _, size in bodies(operations)) <= 5 * MIB  # one part held at a time


async def test_a_short_direct_write_is_one_put(nodes: Node) -> None:
    driver = nodes()
    operations = await record(driver)
    writer = driver.direct_writer(BLOB)
    await writer.write(b"small")
    await writer.complete()
    assert operations.names() == ["PutObject"]
    assert await driver.get_content(BLOB) == b"small"


@pytest.mark.parametrize("announced", [False, True])
async def test_an_aborted_direct_write_leaves_nothing(
    seaweedfs: SeaweedFS, announced: bool
) -> None:
    """Parts sent whole, or streamed (the size told: 11 of 20 MiB written, the third part
    on its way when the writer is aborted)."""
    driver = S3Driver(seaweedfs.settings(new_prefix(), part_size=10 * MIB))
    try:
        writer = driver.direct_writer(BLOB, 20 * MIB if announced else None)
        await writer.write(payload(11 * MIB))
        await writer.abort()
        with pytest.raises(PathNotFoundError):
            await driver.stat(BLOB)
        client = await driver.connection.client()
        listed = await client.list_multipart_uploads(
            Bucket=driver.bucket.name, Prefix=driver.keys.prefix
        )
        assert not listed.get("Uploads")
        assert seaweedfs.keys(driver.keys.prefix) == {}
    finally:
        await driver.close()


def _registry(driver: S3Driver) -> Registry:
    return Registry.create(driver, b"k" * 32, RegistrySettings())


async def test_a_monolithic_upload_streams_to_the_blob_without_a_copy(nodes: Node) -> None:
    driver = nodes()
    registry = _registry(driver)
    data = payload(11 * MIB)
    digest = parse_digest(f"sha256:{hashlib.sha256(data).hexdigest()}")
    operations = await record(driver)
    await registry.uploads.upload_whole("r", _Body(data), digest)
    assert not COPIES & set(operations.names())
    assert await read_all(driver, layout.blob_data(digest)) == data
    operations.clear()
    await registry.uploads.upload_whole("s", _Body(data), digest)  # stored: only hashed
    assert not {"UploadPart", "CreateMultipartUpload"} & set(operations.names())
    assert await registry.blobs.is_linked("s", digest)


async def test_a_put_with_a_wrong_digest_publishes_nothing(nodes: Node) -> None:
    driver = nodes()
    registry = _registry(driver)
    data = payload(7 * MIB)
    digest = parse_digest(f"sha256:{hashlib.sha256(b'other').hexdigest()}")
    session = await registry.uploads.start("r")
    with pytest.raises(RegistryError) as raised:
        await registry.uploads.finish(session, _Body(data), None, digest)
    assert raised.value.code == ErrorCode.DIGEST_INVALID
    with pytest.raises(PathNotFoundError):
        await driver.stat(layout.blob_data(digest))
    with pytest.raises(RegistryError):  # the session is gone, as after a failed commit
        await registry.uploads.open("r", session.uuid, None)


async def test_a_put_into_a_session_holding_data_appends_and_commits(nodes: Node) -> None:
    driver = nodes()
    registry = _registry(driver)
    data = payload(6 * MIB)
    digest = parse_digest(f"sha256:{hashlib.sha256(data).hexdigest()}")
    session = await registry.uploads.start("r")
    session = await registry.uploads.append(session, _Body(data[:MIB]), 0)
    await registry.uploads.finish(session, _Body(data[MIB:]), MIB, digest)
    assert await read_all(driver, layout.blob_data(digest)) == data


async def test_half_parts_are_sent_while_the_next_fills(seaweedfs: SeaweedFS) -> None:
    driver = S3Driver(seaweedfs.settings(new_prefix(), part_size=10 * MIB))
    try:
        operations = await record(driver)
        data = payload(23 * MIB)
        writer = driver.direct_writer(BLOB, len(data))
        for start in range(0, len(data), 3 * MIB):
            await writer.write(data[start : start + 3 * MIB])
        await writer.complete()
        parts = [size for name, size in bodies(operations) if name == "UploadPart"]
        assert parts == [5 * MIB] * 4 + [3 * MIB]  # two half parts: one part of memory
        assert await read_all(driver, BLOB) == data
    finally:
        await driver.close()


async def test_parts_of_a_file_of_known_size_are_sent_while_they_fill(
    seaweedfs: SeaweedFS,
) -> None:
    driver = S3Driver(seaweedfs.settings(new_prefix(), part_size=10 * MIB))  # 5 MiB half parts
    try:
        sent = asyncio.Event()

        def seen(**_: Any) -> None:
            sent.set()

        client = await driver.connection.client()
        client.meta.events.register("before-call.s3.UploadPart", seen)
        data = payload(12 * MIB)
        writer = driver.direct_writer(BLOB, len(data))
        await writer.write(data[:MIB])
        async with asyncio.timeout(5):
            await sent.wait()  # the first part is on its way: 4 MiB of it are still to come
        for start in range(MIB, len(data), MIB):
            await writer.write(data[start : start + MIB])
        with pytest.raises(PathNotFoundError):
            await driver.stat(BLOB)
        await writer.complete()
        assert await read_all(driver, BLOB) == data
    finally:
        await driver.close()


async def test_a_streamed_part_that_fails_is_sent_again_from_memory(
    seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = S3Driver(seaweedfs.settings(new_prefix(), part_size=10 * MIB))
    try:
        operations = await record(driver)
        monkeypatch.setitem(httpchecksum._CHECKSUM_CLS, "crc32", WrongCrc32)
        data = payload(12 * MIB)
        writer = driver.direct_writer(BLOB, len(data))
        for start in range(0, len(data), MIB):
            await writer.write(data[start : start + MIB])
        await writer.complete()
        assert await read_all(driver, BLOB) == data
        parts = [size for name, size in bodies(operations) if name == "UploadPart"]
        assert parts == [5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 2 * MIB, 2 * MIB]  # each twice
    finally:
        await driver.close()


@pytest.mark.parametrize("operation", ["put_object", "upload_part"])
async def test_s3_rejects_a_body_that_does_not_match_its_crc32(nodes: Node, operation: str) -> None:
    """Bodies are not hashed into the signature over plain http: their CRC32 guards them."""
    driver = nodes()
    client = await driver.connection.client()
    bucket, key = driver.bucket.name, driver.keys.key(BLOB)
    body = payload(5 * MIB)
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    right = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    if operation == "put_object":
        await client.put_object(Bucket=bucket, Key=key, Body=body, ChecksumCRC32=right)
        with pytest.raises(ClientError) as refused:
            await client.put_object(Bucket=bucket, Key=key, Body=body, ChecksumCRC32=wrong)
        assert refused.value.response["Error"]["Code"] == "BadDigest"
        return
    upload = (await client.create_multipart_upload(Bucket=bucket, Key=key))["UploadId"]
    try:
        common = {"Bucket": bucket, "Key": key, "UploadId": upload, "Body": body}
        await client.upload_part(PartNumber=1, ChecksumCRC32=right, **common)
        with pytest.raises(ClientError) as refused:
            await client.upload_part(PartNumber=2, ChecksumCRC32=wrong, **common)
        assert refused.value.response["Error"]["Code"] == "BadDigest"
    finally:
        await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
