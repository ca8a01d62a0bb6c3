"""Listings and whole small objects read through the S3 driver's own client (``fetch`` and
``listing``) against a real S3 server (SeaweedFS): keys come back exactly as written, pages are
followed, and answers sent chunked (as AWS sends listings) read the same as with a
Content-Length."""

from __future__ import annotations

import datetime as dt

import pytest

from drift.storage.driver import PathNotFoundError, StorageError
from drift.storage.s3 import S3Driver
from drift.storage.s3.listing import ListingError, parse_list_page
from tests.support.rechunker import Rechunker
from tests.support.s3nodes import MIB, Node, payload, record
from tests.support.seaweedfs import BUCKET, SeaweedFS

DIR = "/docker/registry/v2/listing"
ODD_NAMES = ("plain", "with space", "plus+sign", "per%cent", "amp&er<lt>", "ünï-cödé", "tilde~")


def _root(driver: S3Driver) -> str:
    return driver.keys.dir_prefix(DIR)


def _put_objects(seaweedfs: SeaweedFS, driver: S3Driver, names: tuple[str, ...]) -> None:
    client = seaweedfs.client()
    for size, name in enumerate(names, 1):
        client.put_object(Bucket=BUCKET, Key=_root(driver) + name, Body=b"x" * size)


async def test_listed_keys_come_back_exactly_as_written(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes()
    _put_objects(seaweedfs, driver, ODD_NAMES)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    listed = await driver.bucket.list_all(_root(driver), DIR)
    assert {item.key[len(_root(driver)) :]: item.size for item in listed} == {
        name: size for size, name in enumerate(ODD_NAMES, 1)
    }
    assert all(before < item.modified < before + dt.timedelta(minutes=10) for item in listed)
    assert sorted(await driver.list(DIR)) == sorted(f"{DIR}/{name}" for name in ODD_NAMES)


async def test_a_listing_goes_on_over_pages(seaweedfs: SeaweedFS, nodes: Node) -> None:
    driver = nodes()
    names = tuple(f"object-{index}" for index in range(5))
    _put_objects(seaweedfs, driver, names)
    operations = await record(driver)
    listed = [item.key async for item in driver.bucket.list_objects(_root(driver), DIR, 2)]
    assert listed == [_root(driver) + name for name in names]
    assert operations.names() == ["ListObjectsV2"] * 3


async def test_chunked_answers_read_as_sent_with_a_length(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    direct = nodes()
    _put_objects(seaweedfs, direct, ODD_NAMES)
    data = payload(2 * MIB)
    await direct.put_content(f"{DIR}/blob", data)
    with Rechunker(seaweedfs.ports["s3"]) as relay:
        chunked = nodes(endpoint=relay.endpoint)
        assert await chunked.bucket.list_all(_root(chunked), DIR) == (
            await direct.bucket.list_all(_root(direct), DIR)
        )
        assert await chunked.get_content(f"{DIR}/blob") == data
        with pytest.raises(PathNotFoundError):  # the error's XML came in 1- and 7-byte chunks
            await chunked.get_content(f"{DIR}/missing")
        assert relay.answers >= 3  # all of them came through the relay


def test_an_answer_that_is_no_listing_is_refused() -> None:
    with pytest.raises(ListingError, match="not XML"):
        parse_list_page(b"<ListBucketResult><Contents>")
    with pytest.raises(ListingError, match="'Error'"):
        parse_list_page(b"<Error><Code>AccessDenied</Code></Error>")
    with pytest.raises(ListingError, match="usable"):
        parse_list_page(b"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>")


async def test_a_listing_of_a_missing_bucket_names_it(seaweedfs: SeaweedFS) -> None:
    driver = S3Driver(seaweedfs.settings("p", bucket="no-such-bucket"))
    try:
        with pytest.raises(StorageError, match=r"no-such-bucket.*does not exist"):
            await driver.list("/docker")
    finally:
        await driver.close()
