"""A received HTTP/3 body paced by its reader: the buffer side of Drift's receive flow control.

The transport feeds DATA frame payloads in as they arrive (packet-sized pieces); the reader takes
them out, in large pieces when it asks for them (``read(min_bytes=...)``: each write to disk and
each hash update then handles many packets at once). The buffer never holds more than ``window``
bytes because the peer may only send that far beyond what was read:
``drift.quic.connection.PacedReceiveConnection`` advertises the stream's flow-control limit from
``buffered`` (RFC 9000 section 4.1), so a slow reader slows the peer down instead of filling the
memory. Reading half a window asks the connection to announce the new limit (``announce``).

One class for both ends: the listener's request bodies (``drift.quic.body``) and the Bolt
client's response bodies (``drift.bolt.body``) differ only in the error a cut stream raises.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["ReceiveBuffer"]


class ReceiveBuffer:
    """A ``drift.quic.connection.ReceiveWindow`` with an async reader."""

    __slots__ = (
        "_announce",
        "_chunks",
        "_ended",
        "_error",
        "_unannounced",
        "_waiter",
        "_wanted",
        "buffered",
        "received",
        "window",
    )

    def __init__(self, window: int, announce: Callable[[], None]) -> None:
        self.window = window
        self.buffered = 0  # delivered by the transport, not yet read
        self.received = 0
        self._announce = announce
        self._unannounced = 0
        self._chunks: deque[bytes] = deque()
        self._ended = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wanted = 1  # the reader sleeps until this much is buffered

    @property
    def complete(self) -> bool:
        """The peer ended the body (FIN); reading may still be going on."""
        return self._ended

    @property
    def finished(self) -> bool:
        """Nothing more will arrive: the peer ended the body, or the stream failed."""
        return self._ended or self._error is not None

    def feed(self, data: bytes) -> None:
        if data and not self.finished:
            self._chunks.append(data)
            self.buffered += len(data)
            self.received += len(data)
            if self.buffered >= self._wanted:
                self._wake()

    def end(self) -> None:
        if not self.finished:
            self._ended = True
            self._wake()

    def fail(self, error: Exception) -> None:
        """The stream was reset or the connection lost: the bytes already received can still
        be read, then reads raise ``error``."""
        if not self.finished:
            self._error = error
            self._wake()

    async def read(self, max_bytes: int, min_bytes: int = 1) -> bytes:
        """Between ``min_bytes`` and ``max_bytes`` bytes, fewer only when nothing more will
        come; ``b""`` at the end. ``min_bytes`` must not exceed the window."""
        self._wanted = min_bytes
        while self.buffered < min_bytes and not self.finished:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if not self._chunks:
            if self._error is not None:
                raise self._error
            return b""
        data = self._take(max_bytes)
        self.buffered -= len(data)
        self._unannounced += len(data)
        if self._unannounced >= self.window // 2 and not self.finished:
            self._unannounced = 0
            self._announce()
        return data

    def _take(self, max_bytes: int) -> bytes:
        chunks = self._chunks
        pieces: list[bytes] = []
        size = 0
        while chunks and size < max_bytes:
            chunk = chunks.popleft()
            room = max_bytes - size
            if len(chunk) > room:
                chunks.appendleft(chunk[room:])
                chunk = chunk[:room]
            pieces.append(chunk)
            size += len(chunk)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
