"""One request stream: the core request, its body, the handler task and the response sink.

The sink is what ``drift.quic.response`` writes to. ``drained`` implements the send-side water
mark: it returns once aioquic holds at most ``LOW_WATER`` bytes of the stream (unsent or
unacknowledged), so a response body is produced only as fast as the peer's flow control, the
congestion window and the acknowledgements let it leave. When the stream is reset, the peer
sends STOP_SENDING or the connection is lost, ``abort`` fails every pending and later write with
``StreamAbortedError`` and cancels the handler task.
"""

from __future__ import annotations

import asyncio
from typing import Final, Protocol

from drift.core.http import Request
from drift.quic.body import H3RequestBody

__all__ = ["LOW_WATER", "Exchange", "StreamAbortedError", "StreamIO"]

LOW_WATER: Final = 256 * 1024

Fields = list[tuple[bytes, bytes]]


class StreamAbortedError(ConnectionResetError):
    """The peer no longer wants the response (reset, STOP_SENDING or connection lost)."""


class StreamIO(Protocol):
    """What the connection offers its exchanges (``drift.quic.protocol.H3Protocol``)."""

    def send_headers(self, stream_id: int, fields: Fields, end_stream: bool) -> None: ...

    def send_data(self, stream_id: int, data: bytes, end_stream: bool) -> None: ...

    def send_buffered(self, stream_id: int) -> int: ...

    def wait_drained(self, exchange: Exchange) -> asyncio.Future[None]: ...


class Exchange:
    __slots__ = (
        "_io",
        "aborted",
        "body",
        "complete",
        "request",
        "sent",
        "stream_id",
        "task",
        "waiter",
    )

    def __init__(self, io: StreamIO, stream_id: int, request: Request, body: H3RequestBody) -> None:
        self._io = io
        self.stream_id = stream_id
        self.request = request
        self.body = body
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None  # set while ``drained`` waits
        self.aborted: str | None = None
        self.sent = 0  # response body bytes handed to the transport
        self.complete = False  # the whole response was handed to the transport

    def send_headers(self, fields: Fields, end_stream: bool) -> None:
        self._check()
        self._io.send_headers(self.stream_id, fields, end_stream)

    def send_data(self, data: bytes, end_stream: bool) -> None:
        self._check()
        self._io.send_data(self.stream_id, data, end_stream)
        self.sent += len(data)

    async def drained(self) -> None:
        self._check()
        if self._io.send_buffered(self.stream_id) > LOW_WATER:
            await self._io.wait_drained(self)

    def wake(self) -> None:
        """Called by the connection when the stream's send buffer fell to the low water mark."""
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def abort(self, reason: str) -> None:
        if self.aborted is not None:
            return
        self.aborted = reason
        self.body.abort(reason)
        waiter, self.waiter = self.waiter, None
        if waiter is not None:
            waiter.cancel()
        if self.task is not None:
            self.task.cancel()

    def _check(self) -> None:
        if self.aborted is not None:
            raise StreamAbortedError(self.aborted)
