"""Writing a core ``Response`` onto an HTTP/3 request stream, without buffering whole bodies.

A body of bytes is already in memory and goes out at once. A file region is read in ``CHUNK``
pieces in the storage executor, one read ahead of the transport; a stream body is iterated
lazily. Either is handed to aioquic only when the stream's send buffer is at or below the low
water mark (``Exchange.drained``), so the memory a response holds stays bounded whatever the
blob size: about ``LOW_WATER + 2 * CHUNK``. A body that ends short of its announced length
raises, and the caller resets the stream rather than ending it cleanly (a peer must not take a
truncated blob for a whole one).
"""

from __future__ import annotations

import asyncio
import os
from functools import partial
from typing import Final

from drift.core.http import FileBody, Response, StreamBody
from drift.quic.exchange import Exchange
from drift.quic.messages import response_fields
from drift.storage.executor import run_blocking

__all__ = ["CHUNK", "BodyShortError", "write_response"]

CHUNK: Final = 256 * 1024


class BodyShortError(Exception):
    """The file or stream behind a response ended before its announced length."""


async def write_response(exchange: Exchange, response: Response) -> None:
    body = response.body
    fields = response_fields(response.status, response.headers)
    if isinstance(body, bytes):
        exchange.send_headers(fields, end_stream=not body)
        if body:
            exchange.send_data(body, end_stream=True)
        return
    exchange.send_headers(fields, end_stream=False)
    if isinstance(body, FileBody):
        await _send_file(exchange, body)
    else:
        await _send_stream(exchange, body)


async def _send_file(exchange: Exchange, body: FileBody) -> None:
    if body.length == 0:
        exchange.send_data(b"", end_stream=True)
        return
    fd = await run_blocking(os.open, body.path, os.O_RDONLY | os.O_CLOEXEC)
    offset, end = body.offset, body.offset + body.length
    pending: asyncio.Future[bytes] | None = run_blocking(
        os.pread, fd, min(CHUNK, end - offset), offset
    )
    try:
        while pending is not None:
            chunk = await asyncio.shield(pending)  # a cancelled task leaves the read running
            if not chunk:
                raise BodyShortError(f"{body.path} shrank while sending")
            offset += len(chunk)
            pending = (
                run_blocking(os.pread, fd, min(CHUNK, end - offset), offset)
                if offset < end
                else None
            )
            await exchange.drained()
            exchange.send_data(chunk, end_stream=pending is None)
    finally:
        if pending is None:
            os.close(fd)
        else:  # a read is still running in a thread: close the file once it returns
            pending.add_done_callback(partial(_close_when_read, fd))


def _close_when_read(fd: int, read: asyncio.Future[bytes]) -> None:
    if not read.cancelled():
        read.exception()  # retrieve it: a failed read-ahead no longer matters
    os.close(fd)


async def _send_stream(exchange: Exchange, body: StreamBody) -> None:
    chunks = body.chunks
    sent = 0
    try:
        async for chunk in chunks:
            if chunk:
                await exchange.drained()
                exchange.send_data(chunk, end_stream=False)
                sent += len(chunk)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    if sent != body.length:
        raise BodyShortError(f"stream body gave {sent} of {body.length} bytes")
    exchange.send_data(b"", end_stream=True)
