"""The response body buffer: packet-sized pieces in, large pieces out, the window announced as
the reader consumes it, and the bytes received before a reset still readable."""

from __future__ import annotations

import asyncio

import pytest

from drift.bolt.body import ResponseBody
from drift.bolt.errors import TransferError


async def test_reads_gather_pieces_up_to_the_bounds() -> None:
    announced: list[int] = []
    body = ResponseBody(window=100, announce=lambda: announced.append(body.buffered))
    reading = asyncio.ensure_future(body.read(max_bytes=30, min_bytes=25))
    for piece in (b"a" * 10, b"b" * 10):
        body.feed(piece)
        await asyncio.sleep(0)
        assert not reading.done()  # fewer than min_bytes
    body.feed(b"c" * 10)
    assert await reading == b"a" * 10 + b"b" * 10 + b"c" * 10
    assert body.buffered == 0
    body.feed(b"d" * 40)
    assert await body.read(max_bytes=30, min_bytes=25) == b"d" * 30
    assert announced == [10]  # half the window consumed: the limit is raised once
    body.end()
    assert await body.read(max_bytes=30, min_bytes=25) == b"d" * 10
    assert await body.read(max_bytes=30) == b""
    assert body.received == 70


async def test_what_arrived_before_a_reset_is_read_first() -> None:
    body = ResponseBody(window=100, announce=lambda: None)
    body.feed(b"partial")
    body.fail(TransferError("stream reset by the registry (H3_INTERNAL_ERROR)"))
    body.feed(b"late")  # nothing after the reset counts
    assert await body.read(max_bytes=100, min_bytes=50) == b"partial"
    with pytest.raises(TransferError, match="stream reset"):
        await body.read(max_bytes=100)
    assert body.finished
