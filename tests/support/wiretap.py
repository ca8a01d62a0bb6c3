"""A loopback TCP relay that records the HTTP/1.1 requests a real client sends to a registry.

Clients talk to the wiretap's port as if it were the registry; bytes pass through unchanged in
both directions, and the client-to-server stream is parsed just enough (RFC 9112 message
framing: Content-Length and chunked bodies) to record each request's method and target. This
shows which protocol paths a client really took (a cross-repository mount rather than an
upload, several PATCH chunks rather than one) without reading any server log.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopthread import ThreadedServer

__all__ = ["RecordedRequest", "Wiretap"]

REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]")
CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]+)(;[^\r]*)?")
READ_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    target: str

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


class _State(Enum):
    HEAD = "head"
    BODY = "body"
    CHUNK_SIZE = "chunk-size"
    CHUNK_DATA = "chunk-data"
    TRAILERS = "trailers"
    NOT_HTTP = "not-http"


class _RequestFramer:
    """Splits one connection's client-to-server bytes into requests."""

    def __init__(self, record: Callable[[RecordedRequest], None]) -> None:
        self._record = record
        self._buffer = bytearray()
        self._state = _State.HEAD
        self._remaining = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._state is not _State.NOT_HTTP and self._step():
            pass
        if self._state is _State.NOT_HTTP:
            self._buffer.clear()

    def _step(self) -> bool:
        if self._state in (_State.BODY, _State.CHUNK_DATA):
            return self._skip_body()
        line_end = self._buffer.find(b"\r\n\r\n" if self._state is _State.HEAD else b"\r\n")
        if line_end < 0:
            return False
        if self._state is _State.HEAD:
            self._start_request(bytes(self._buffer[:line_end]))
            del self._buffer[: line_end + 4]
        elif self._state is _State.CHUNK_SIZE:
            self._start_chunk(bytes(self._buffer[:line_end]))
            del self._buffer[: line_end + 2]
        else:  # trailers: a blank line ends the message
            if line_end == 0:
                self._state = _State.HEAD
            del self._buffer[: line_end + 2]
        return True

    def _start_request(self, head: bytes) -> None:
        request_line, *header_lines = head.split(b"\r\n")
        match = REQUEST_LINE.fullmatch(request_line)
        if match is None:
            self._state = _State.NOT_HTTP  # e.g. a TLS ClientHello probing for HTTPS
            return
        self._record(RecordedRequest(match[1].decode(), match[2].decode()))
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in header_lines)
        }
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            self._state = _State.CHUNK_SIZE
        else:
            self._remaining = int(headers.get(b"content-length", b"0"))
            self._state = _State.BODY if self._remaining else _State.HEAD

    def _start_chunk(self, line: bytes) -> None:
        match = CHUNK_SIZE_LINE.fullmatch(line)
        if match is None:
            self._state = _State.NOT_HTTP
            return
        size = int(match[1], 16)
        # chunk data is followed by CRLF, which is skipped together with the data
        self._remaining = size + 2
        self._state = _State.CHUNK_DATA if size else _State.TRAILERS

    def _skip_body(self) -> bool:
        if not self._buffer:
            return False
        taken = min(self._remaining, len(self._buffer))
        del self._buffer[:taken]
        self._remaining -= taken
        if self._remaining == 0:
            self._state = _State.HEAD if self._state is _State.BODY else _State.CHUNK_SIZE
        return True


class Wiretap(ThreadedServer):
    """Relays 127.0.0.1:<port> to the upstream registry port and records requests."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self._upstream_port = upstream_port
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._connections: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._accepted = 0

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._accepted

    def cut(self) -> None:
        """Reset every relayed connection (as a server that drops them); keep listening. The
        bytes still on their way are lost, so this never waits on a client that is not
        reading (the caller's own, blocked in this call)."""
        self._call(self._end_connections(reset=True)).result(timeout=10)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._end_connections(reset=False)

    async def _end_connections(self, *, reset: bool) -> None:
        # closing (or resetting) both ends makes every pump see EOF or an error, so the
        # connection tasks end on their own
        for writer in list(self._writers):
            if reset:
                writer.transport.abort()
            else:
                writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        with self._lock:
            self._accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self._upstream_port
            )
        except OSError:
            return
        else:
            self._writers.add(upstream_writer)
            framer = _RequestFramer(self._record)
            await asyncio.gather(
                _pump(reader, upstream_writer, framer.feed),
                _pump(upstream_reader, writer, None),
            )
            upstream_writer.close()
            self._writers.discard(upstream_writer)
        finally:
            writer.close()
            self._writers.discard(writer)
            self._connections.discard(task)


async def _pump(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    observe: Callable[[bytes], None] | None,
) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(READ_SIZE):
            if observe is not None:
                observe(data)
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
