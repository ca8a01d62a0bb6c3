"""Pure functions of drift.oci: ranges, digests, manifests, upload state."""

from __future__ import annotations

import pytest

from drift.oci.digest import parse_digest
from drift.oci.errors import RegistryError
from drift.oci.manifest import MAX_MANIFEST_BYTES, parse_manifest
from drift.oci.ranges import ByteRange, RangeNotSatisfiable, parse_chunk_range, parse_range_header
from drift.registry.pagination import PageRequest, paginate
from drift.registry.upload_state import UploadState, UploadStateCodec


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, ByteRange(0, 0)),
        ("bytes=2-", 10, ByteRange(2, 9)),
        ("bytes=-3", 10, ByteRange(7, 9)),
        ("bytes=5-100", 10, ByteRange(5, 9)),
        ("bytes=-100", 10, ByteRange(0, 9)),
        ("bytes=0-1,4-5", 10, None),
    ],
)
def test_range_header(header: str, size: int, expected: ByteRange | None) -> None:
    assert parse_range_header(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=5-2", "items=0-1", "bytes=-", "bytes=-0"])
def test_unsatisfiable_or_malformed_range(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range_header(header, 10)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("0-9", ByteRange(0, 9)), ("bytes=3-4", ByteRange(3, 4)), ("9-0", None), ("a-b", None)],
)
def test_chunk_range(header: str, expected: ByteRange | None) -> None:
    assert parse_chunk_range(header) == expected


@pytest.mark.parametrize(
    "value",
    ["sha256:" + "A" * 64, "sha256:" + "a" * 63, "md5:" + "a" * 32, "sha512:" + "a" * 64, "x"],
)
def test_invalid_digests(value: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_digest(value)
    assert caught.value.code.name == "DIGEST_INVALID"


def test_schema1_and_oversize_are_refused() -> None:
    with pytest.raises(RegistryError, match="schema 1"):
        parse_manifest(b'{"schemaVersion": 1, "name": "x", "fsLayers": []}', "")
    with pytest.raises(RegistryError) as caught:
        parse_manifest(b" " * (MAX_MANIFEST_BYTES + 1), "")
    assert caught.value.status == 413


def test_media_type_must_match_content_type() -> None:
    body = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    )
    assert parse_manifest(body, "application/vnd.oci.image.index.v1+json").is_index
    with pytest.raises(RegistryError, match="does not match"):
        parse_manifest(body, "application/vnd.oci.image.manifest.v1+json")


def test_upload_state_rejects_tampering() -> None:
    codec = UploadStateCodec(b"secret-secret-secret")
    token = codec.encode(UploadState("a/b", "u", 5, "now"))
    assert codec.decode(token) == UploadState("a/b", "u", 5, "now")
    payload, signature = token.split(".")
    forged = UploadStateCodec(b"another-secret-value").encode(UploadState("a/b", "u", 9, "now"))
    with pytest.raises(RegistryError):
        codec.decode(forged.split(".")[0] + "." + signature)
    with pytest.raises(RegistryError):
        UploadStateCodec(b"another-secret-value").decode(token)
    del payload


def test_pagination() -> None:
    items = ["c", "a", "b", "d"]
    page = paginate(items, PageRequest(2, None), None)
    assert (page.items, page.next_last) == (["a", "b"], "b")
    page = paginate(items, PageRequest(2, "b"), None)
    assert (page.items, page.next_last) == (["c", "d"], None)
    assert paginate(items, PageRequest(0, None), None).items == []
