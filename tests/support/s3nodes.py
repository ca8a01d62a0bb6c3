"""Helpers of the S3 driver's tests against a real S3 server (SeaweedFS): driver instances that
stand for nodes (``nodes``, a fixture of ``tests/storage/conftest.py``), the S3 operations a
driver sends (recorded from its botocore client's event hooks, and around its fetcher, which
sends reads and listings), and a file's segment keys."""

from __future__ import annotations

import base64
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from drift.storage.s3 import S3Driver
from tests.support.seaweedfs import SeaweedFS

__all__ = [
    "DATA",
    "MIB",
    "SEGMENTS",
    "Node",
    "Operations",
    "WrongCrc32",
    "payload",
    "read_all",
    "record",
    "segment_keys",
    "write_file",
]

MIB = 1 << 20
DATA = "/docker/registry/v2/repositories/r/_uploads/u1/data"
SEGMENTS = "docker/registry/v2/repositories/r/_uploads/u1/data!segments/"


class WrongCrc32:
    """botocore's CRC32 of a trailer, made wrong: what S3 gets when bytes change on the way
    (installed with ``monkeypatch.setitem(httpchecksum._CHECKSUM_CLS, "crc32", WrongCrc32)``)."""

    def __init__(self) -> None:
        self._crc = 0

    def update(self, chunk: bytes) -> None:
        self._crc = zlib.crc32(chunk, self._crc)

    def b64digest(self) -> str:
        return base64.b64encode(((self._crc + 1) & 0xFFFFFFFF).to_bytes(4, "big")).decode()


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _stream_size(body: Any) -> int:
    """The bytes left in a file object body (botocore wraps bytes bodies in one), or the
    length of a streamed one."""
    if hasattr(body, "__len__"):
        return len(body)
    if not hasattr(body, "seek"):
        return 0
    position = body.tell()
    size = int(body.seek(0, 2)) - position
    body.seek(position)
    return size


@dataclass(eq=False)  # hashable by identity: botocore keeps handlers in a mapping
class Operations:
    """The S3 operations one driver sent, with their key, range and body size."""

    calls: list[tuple[str, str, str, int]] = field(default_factory=list)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body", b"")
        size = len(body) if isinstance(body, bytes | bytearray) else _stream_size(body)
        url_path = params.get("url_path", "")
        headers = params.get("headers", {})
        span = headers.get("Range") or headers.get("x-amz-copy-source-range", "")
        self.calls.append((model.name, url_path, span, size))

    def names(self) -> list[str]:
        return [name for name, *_ in self.calls]

    def clear(self) -> None:
        self.calls.clear()


Node = Callable[..., S3Driver]


async def record(driver: S3Driver) -> Operations:
    operations = Operations()
    client = await driver.connection.client()
    client.meta.events.register("before-call.s3", operations)
    fetcher = driver.bucket.fetcher
    get, get_document = fetcher.get, fetcher.get_document

    async def recorded_get(url: str, byte_range: str | None = None) -> Any:
        operations.calls.append(("GetObject", _url_path(url), byte_range or "", 0))
        return await get(url, byte_range)

    async def recorded_get_document(url: str, **options: Any) -> bytes:
        listing = "list-type" in parse_qs(urlsplit(url).query)
        operations.calls.append(
            ("ListObjectsV2" if listing else "GetObject", _url_path(url), "", 0)
        )
        return await get_document(url, **options)

    fetcher.get = recorded_get  # type: ignore[method-assign]
    fetcher.get_document = recorded_get_document  # type: ignore[method-assign]
    return operations


def _url_path(url: str) -> str:
    return unquote(urlsplit(url).path)


def segment_keys(seaweedfs: SeaweedFS, driver: S3Driver) -> dict[str, int]:
    prefix = f"{driver.test_prefix}/{SEGMENTS}"  # type: ignore[attr-defined]
    return {key[len(prefix) :]: size for key, size in seaweedfs.keys(prefix).items()}


async def read_all(
    driver: S3Driver, path: str, offset: int = 0, length: int | None = None
) -> bytes:
    return b"".join([chunk async for chunk in driver.read_stream(path, offset, length, 3 * MIB)])


async def write_file(driver: S3Driver, data: bytes, block: int = MIB, append: bool = False) -> None:
    writer = await driver.writer(DATA, append=append)
    for start in range(0, len(data), block):
        await writer.write(data[start : start + block])
    await writer.close()
