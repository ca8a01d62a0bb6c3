"""Segments sent to S3 while they are being written: a request body and its store overlap.

A writer told how many bytes are coming (``FileWriter.expect``) knows where its next segment
ends before the bytes arrive, so it can name the segment and start its PutObject at once. The
request's body is a ``StreamedBody`` over the writer's part buffer: S3 reads each byte as soon
as the writer has put it there, and the body ends only when all of the segment's bytes were
read. A segment's PUT thus starts with its first byte instead of after its last: the request
body's transfer and the store overlap (an 8 MiB PATCH on S3 gains the time its body takes).

Nothing can be summed up front, so the checksum travels in a trailer (aws-chunked,
``x-amz-checksum-crc32`` after the last byte), which S3 verifies like the header form; see
``client``. Safety comes from the framing: a body that stops early (the client went away, the
writer gave up) never ends the request, so S3 stores nothing for it. Whatever goes wrong with a
streamed PUT, the bytes are still in the buffer: the writer then stores the segment as it
would have without streaming (``SegmentStream.finished`` says whether it must).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from drift.storage.driver import StorageError
from drift.storage.s3.buffers import StreamedBody
from drift.storage.s3.client import refuses_streaming

__all__ = ["SegmentStream", "StreamingSwitch"]

_log = logging.getLogger(__name__)


class StreamingSwitch:
    """Whether a driver streams segments: yes, until S3 refuses a streamed request as such (a
    store that does not take aws-chunked trailers); then no more, with one warning."""

    def __init__(self) -> None:
        self.enabled = True

    def failed(self, exc: StorageError) -> None:
        if self.enabled and refuses_streaming(exc):
            self.enabled = False
            _log.warning("S3 refuses streamed uploads, storing segments whole from now: %s", exc)


class SegmentStream:
    """The PutObject of one segment of a file (ending at ``end``), running while it is written."""

    def __init__(
        self,
        key: str,
        end: int,
        body: StreamedBody,
        *,
        send: Callable[[StreamedBody], Awaitable[None]],
        switch: StreamingSwitch,
    ) -> None:
        self.key = key
        self.end = end
        self.body = body
        self._switch = switch
        self._task = asyncio.ensure_future(send(body))

    async def finished(self) -> bool:
        """Wait for the PUT once every byte was written: True when S3 stored the segment,
        False when it failed (logged; the caller stores the bytes itself)."""
        try:
            await asyncio.shield(self._task)
        except StorageError as exc:
            self._switch.failed(exc)
            _log.info("streamed store of %s failed, storing it from memory: %s", self.key, exc)
            return False
        except BaseException:
            await self.abandon()
            raise
        return True

    async def abandon(self) -> None:
        """Stop the PUT (its body never ends, so S3 stores nothing) and wait until it has."""
        self._task.cancel()
        await asyncio.wait([self._task])
        if not self._task.cancelled():
            self._task.exception()  # retrieved: the caller stores the bytes itself
