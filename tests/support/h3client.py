"""A blocking HTTP/3 test client on aioquic, with the request API of ``rawhttp.HttpClient``.

One QUIC connection per client, run by an event loop in a thread of its own (the connection
keeps acknowledging and answering timers between calls), so that the same scenarios run over
HTTP/1.1 and HTTP/3 (``tests/quic/scenarios.py``). It also makes the faults the tests need:
a stream reset in the middle of a download or of an upload. The socket is bound to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, ErrorCode, H3Connection, H3Stream
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamReset

from tests.support.lifecycle import ClosesOnExit
from tests.support.rawhttp import Body, HeaderList, HttpClient, Reply

__all__ = ["H3Client", "H3Error"]

_T = TypeVar("_T")


class H3Error(ConnectionError):
    """The server reset the stream or the connection ended before the response did."""


@dataclass
class _Response:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    received: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None
    keep_body: bool = True
    on_data: Callable[[int], None] | None = None


class _HeadAwareH3(H3Connection):
    """aioquic checks a response's ``content-length`` against its DATA even for HEAD, whose
    response carries the length of the GET and no content (RFC 9110 section 9.3.2)."""

    def __init__(self, quic: QuicConnection) -> None:
        super().__init__(quic)
        self.head_streams: set[int] = set()

    def _check_content_length(self, stream: H3Stream) -> None:
        if stream.stream_id not in self.head_streams:
            super()._check_content_length(stream)


class _ClientProtocol(QuicConnectionProtocol):
    def __init__(self, quic: QuicConnection) -> None:
        super().__init__(quic)
        self.http = _HeadAwareH3(quic)
        self.responses: dict[int, _Response] = {}

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            for response in self.responses.values():
                _fail(response, f"connection closed: {event.reason_phrase or event.error_code}")
        elif isinstance(event, StreamReset) and event.stream_id in self.responses:
            _fail(self.responses[event.stream_id], f"stream reset (code {event.error_code:#x})")
        for http_event in self.http.handle_event(event):
            response = self.responses.get(getattr(http_event, "stream_id", -1))
            if response is None:
                continue
            if isinstance(http_event, HeadersReceived) and not response.headers:
                response.headers = http_event.headers
            elif isinstance(http_event, DataReceived):
                response.received += len(http_event.data)
                if response.keep_body:
                    response.body += http_event.data
                if response.on_data is not None:
                    response.on_data(response.received)
            if getattr(http_event, "stream_ended", False):
                response.done.set()


def _fail(response: _Response, reason: str) -> None:
    if not response.done.is_set():
        response.error = reason
        response.done.set()


def _pairs(headers: HeaderList) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


class H3Client(ClosesOnExit):
    """HTTP/3 to ``https://host:port``; ``cafile`` (the server's certificate) is verified for
    ``server_name``, or nothing is verified without it."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        cafile: str | None = None,
        server_name: str = "localhost",
        max_datagram_size: int = 1350,
        receive_window: int = 8 << 20,
        timeout: float = 60.0,
        on_reply: Callable[[Reply], None] | None = None,
    ) -> None:
        self.host, self.port, self.timeout, self.on_reply = host, port, timeout, on_reply
        self.base_url = f"https://{host}:{port}"
        configuration = QuicConfiguration(
            is_client=True,
            alpn_protocols=H3_ALPN,
            server_name=server_name,
            max_datagram_size=max_datagram_size,
            max_data=2 * receive_window,
            max_stream_data=receive_window,
        )
        if cafile is None:
            configuration.verify_mode = ssl.CERT_NONE
        else:
            configuration.load_verify_locations(cafile=cafile)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._protocol = self._call(self._connect(configuration))

    # -- plumbing

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self.timeout)

    async def _connect(self, configuration: QuicConfiguration) -> _ClientProtocol:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        quic = QuicConnection(configuration=configuration)
        _, protocol = await self._loop.create_datagram_endpoint(
            lambda: _ClientProtocol(quic), sock=sock
        )
        protocol.connect((self.host, self.port))
        await asyncio.wait_for(protocol.wait_connected(), self.timeout)
        return protocol

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def shut() -> None:
            self._protocol.close()
            await asyncio.wait_for(self._protocol.wait_closed(), 5)

        try:
            self._call(shut())
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def target(self, url_or_target: str) -> str:
        if url_or_target.startswith("/") and not url_or_target.startswith("//"):
            return url_or_target
        parts = urlsplit(urljoin(self.base_url + "/", url_or_target))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _open(
        self, method: str, target: str, headers: HeaderList, length: int | None, end: bool
    ) -> tuple[int, _Response]:
        """Send the request head (on the loop); ``end``: there is no body. The response is
        filled in as it arrives."""
        pairs = [(name.lower(), value) for name, value in _pairs(headers)]
        names = {name for name, _ in pairs}
        if length is not None and "content-length" not in names:
            pairs.append(("content-length", str(length)))
        fields = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", f"{self.host}:{self.port}".encode()),
            (b":path", target.encode()),
            *((name.encode(), value.encode()) for name, value in pairs),
        ]
        protocol = self._protocol
        stream_id = protocol._quic.get_next_available_stream_id()
        response = _Response()
        protocol.responses[stream_id] = response
        if method == "HEAD":
            protocol.http.head_streams.add(stream_id)
        protocol.http.send_headers(stream_id, fields, end_stream=end)
        protocol.transmit()
        return stream_id, response

    def _send(self, stream_id: int, data: bytes, end: bool) -> None:
        self._protocol.http.send_data(stream_id, data, end_stream=end)
        self._protocol.transmit()

    def _reset(self, stream_id: int) -> None:
        quic = self._protocol._quic
        quic.reset_stream(stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        quic.stop_stream(stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        self._protocol.transmit()

    # -- the HttpClient API

    def request(self, method: str, target: str, **options: Any) -> Reply:
        """Like ``HttpClient.request`` (``body``, ``headers``, ``content_length``)."""
        return self.submit(method, target, **options).result(self.timeout)

    def submit(
        self,
        method: str,
        target: str,
        *,
        body: Body = None,
        headers: HeaderList = (),
        content_length: int | None = None,
    ) -> Future[Reply]:
        """Send the request now; the reply comes in the future (streams run concurrently)."""
        target = self.target(target)
        if isinstance(body, bytes):
            content_length = len(body)
        elif body is None and method in {"POST", "PUT", "PATCH"}:
            content_length = 0

        async def run() -> Reply:
            stream_id, response = self._open(
                method, target, headers, content_length, end=body is None
            )
            if body is not None:
                pieces: Iterable[bytes] = (body,) if isinstance(body, bytes) else body
                for piece in pieces:
                    self._send(stream_id, piece, end=False)
                    await asyncio.sleep(0)
                self._send(stream_id, b"", end=True)
            await response.done.wait()
            self._protocol.responses.pop(stream_id, None)
            return self._reply(method, target, response)

        return asyncio.run_coroutine_threadsafe(run(), self._loop)

    def _reply(self, method: str, target: str, response: _Response) -> Reply:
        if response.error is not None:
            raise H3Error(f"{method} {target}: {response.error}")
        reply = Reply(
            method=method,
            target=target,
            status=int(dict(response.headers)[b":status"]),
            headers=tuple(
                (name.decode(), value.decode())
                for name, value in response.headers
                if not name.startswith(b":")
            ),
            body=bytes(response.body),
        )
        if self.on_reply is not None:
            self.on_reply(reply)
        return reply

    # The verbs of ``HttpClient``: each only calls ``self.request``.
    get = HttpClient.get
    head = HttpClient.head
    delete = HttpClient.delete
    post = HttpClient.post
    put = HttpClient.put
    patch = HttpClient.patch

    # -- faults

    def pause_reading(self) -> None:
        """Stop reading datagrams: nothing is acknowledged nor credited until ``resume_reading``."""
        self._loop.call_soon_threadsafe(self._protocol._transport.pause_reading)

    def resume_reading(self) -> None:
        self._loop.call_soon_threadsafe(self._protocol._transport.resume_reading)

    @property
    def closed(self) -> bool:
        return self._protocol._closed.is_set()

    def download_and_reset(self, target: str, after: int) -> int:
        """GET ``target``, reset the stream once ``after`` body bytes arrived; bytes received."""

        async def run() -> int:
            reached = asyncio.Event()
            stream_id, response = self._open("GET", self.target(target), (), None, end=True)
            response.keep_body = False
            response.on_data = lambda received: reached.set() if received >= after else None
            await asyncio.wait(
                [
                    asyncio.ensure_future(reached.wait()),
                    asyncio.ensure_future(response.done.wait()),
                ],
                return_when=asyncio.FIRST_COMPLETED,
            )
            if response.done.is_set():
                raise H3Error(f"the response ended before {after} bytes: {response.error}")
            self._reset(stream_id)
            self._protocol.responses.pop(stream_id, None)
            return response.received

        return self._call(run())

    def upload_and_reset(
        self,
        method: str,
        target: str,
        data: bytes,
        *,
        declared_length: int,
        headers: HeaderList = (),
        until: Callable[[], bool],
        close_connection: bool = False,
    ) -> None:
        """Send ``data`` (of a body announced as ``declared_length`` bytes), wait until
        ``until()`` holds (checked from this thread), then reset the stream (or close the whole
        connection)."""
        assert len(data) < declared_length

        async def send() -> int:
            stream_id, _ = self._open(
                method, self.target(target), headers, declared_length, end=False
            )
            self._send(stream_id, data, end=False)
            return stream_id

        stream_id = self._call(send())
        _wait_for(until, self.timeout)

        async def reset() -> None:
            if close_connection:
                self._protocol.close()
            else:
                self._reset(stream_id)
            self._protocol.responses.pop(stream_id, None)

        self._call(reset())


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met before the timeout")
        time.sleep(0.05)
