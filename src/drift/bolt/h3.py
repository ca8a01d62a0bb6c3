"""One HTTP/3 client connection on aioquic: many concurrent request streams, bodies streamed.

``H3Client.open`` connects (one UDP socket, one QUIC connection, TLS checked by ``Trust``);
``request`` sends a request on a new stream and returns once the response head arrived, its
body then arriving in a bounded ``ResponseBody``. Requests run concurrently; aioquic queues
streams beyond the registry's ``MAX_STREAMS`` until it allows more (RFC 9000 section 4.6).

Received datagrams are processed as they come and answered once per event-loop iteration
(``schedule_transmit``): under uvloop a batch of datagrams read together costs one
transmit (with its ACK) instead of one per datagram. A stream reset by the registry fails that
response only; a lost connection (idle timeout, CONNECTION_CLOSE, an ICMP port-unreachable before
the handshake) fails every response and every later request. Delayed ACKs go out at their
deadline (``drift.quic.timely``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, cast

from aioquic.h3.connection import H3_ALPN, ErrorCode, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import NetworkAddress
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent, StreamReset

from drift import __version__
from drift.bolt.body import ResponseBody
from drift.bolt.errors import PullError, TransferError
from drift.bolt.quic import BoltQuicConnection
from drift.bolt.reference import Endpoint
from drift.bolt.trust import Trust
from drift.quic.timely import TimelyProtocol

__all__ = ["USER_AGENT", "ConnectionOptions", "H3Client", "H3Response"]

USER_AGENT: Final = f"driftctl/{__version__} (bolt)"
_SOCKET_BUFFER: Final = 4 << 20
_ERROR_NAMES: Final = {code.value: code.name for code in ErrorCode}


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    trust: Trust = field(default_factory=Trust)
    server_name: str | None = None  # TLS name to verify; default: the endpoint's host
    window: int = 4 << 20  # per response stream: bytes buffered ahead of the reader
    max_datagram_size: int = 1350  # of the packets this client sends
    connect_timeout: float = 10.0
    idle_timeout: float = 30.0


class H3Response:
    """The status, fields and streaming body of one response."""

    __slots__ = ("_client", "body", "headers", "status", "stream_id")

    def __init__(
        self,
        client: H3Client,
        stream_id: int,
        status: int,
        headers: tuple[tuple[str, str], ...],
        body: ResponseBody,
    ) -> None:
        self._client = client
        self.stream_id = stream_id
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def close(self) -> None:
        """Stop receiving what is left of the body (STOP_SENDING; nothing if it ended)."""
        if not self.body.finished:
            self._client.abandon(self.stream_id)


@dataclass(slots=True)
class _Exchange:
    body: ResponseBody
    head: asyncio.Future[H3Response]


def _status_of(fields: list[tuple[bytes, bytes]]) -> int:
    for name, value in fields:
        if name == b":status":
            return int(value)
    raise TransferError("the registry sent a response without :status")


class H3Client(TimelyProtocol):
    def __init__(self, quic: BoltQuicConnection, endpoint: Endpoint, options: ConnectionOptions):
        super().__init__(quic)
        self.endpoint = endpoint
        self._conn = quic
        self._options = options
        self._http = H3Connection(quic)
        self._exchanges: dict[int, _Exchange] = {}
        # The handshake's outcome: None once established, else why it failed.
        self._established: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.lost: str | None = None  # why the connection ended
        self.refusing = False  # the registry rejects new streams here (it sent GOAWAY)

    @classmethod
    async def open(cls, endpoint: Endpoint, options: ConnectionOptions) -> H3Client:
        """Connect and check the registry's certificate; raises ``PullError``."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise PullError(f"cannot resolve {endpoint.host}: {exc.strerror or exc}") from None
        family, _, _, _, address = infos[0]
        configuration = QuicConfiguration(
            is_client=True,
            alpn_protocols=H3_ALPN,
            server_name=options.server_name or endpoint.host,
            max_datagram_size=options.max_datagram_size,
            idle_timeout=options.idle_timeout,
            max_stream_data=options.window,
            max_data=8 * options.window,
        )
        options.trust.configure(configuration)
        quic = BoltQuicConnection(configuration)
        try:
            # A connected socket: the kernel picks the source address (the loopback for a
            # registry on it) and reports ICMP errors such as port unreachable.
            transport, client = await loop.create_datagram_endpoint(
                lambda: cls(quic, endpoint, options),
                remote_addr=(str(address[0]), int(address[1])),
                family=family,
            )
        except OSError as exc:
            raise PullError(f"cannot reach {endpoint.authority}: {exc.strerror or exc}") from None
        _enlarge_buffers(transport)
        try:
            await client._handshake(address, options.connect_timeout)
            options.trust.check_peer(quic.peer_certificate())
        except BaseException:
            client.shutdown()
            raise
        return client

    async def _handshake(self, address: NetworkAddress, timeout: float) -> None:  # noqa: ASYNC109
        self.connect(address)
        where = self.endpoint.authority
        try:
            failure = await asyncio.wait_for(asyncio.shield(self._established), timeout)
        except TimeoutError:
            raise PullError(
                f"registry {where}: unreachable, no QUIC handshake within {timeout:g} s"
            ) from None
        if failure is not None:
            raise PullError(f"registry {where}: {failure}")

    def shutdown(self) -> None:
        """Close the connection (CONNECTION_CLOSE goes out at once) and the socket."""
        if self.lost is None:
            self.close(error_code=ErrorCode.H3_NO_ERROR)
        self.stop_timer()  # the socket closes now: no loss or idle timer may fire on it
        if self._transport is not None:
            self._transport.close()

    # -- requests

    async def request(
        self, method: str, path: str, headers: Sequence[tuple[str, str]] = ()
    ) -> H3Response:
        """Send a request without a body; return when the final response head arrived."""
        if self.lost is not None:
            raise TransferError(f"connection lost: {self.lost}", reconnect=True)
        stream_id = self._conn.get_next_available_stream_id()
        exchange = _Exchange(
            ResponseBody(self._options.window, self.schedule_transmit),
            asyncio.get_running_loop().create_future(),
        )
        fields = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", self.endpoint.authority.encode()),
            (b":path", path.encode()),
            (b"user-agent", USER_AGENT.encode()),
            *((name.lower().encode(), value.encode()) for name, value in headers),
        ]
        self._exchanges[stream_id] = exchange
        self._conn.flow_control[stream_id] = exchange.body
        self._http.send_headers(stream_id, fields, end_stream=True)
        self.schedule_transmit()
        try:
            return await exchange.head
        except asyncio.CancelledError:
            self.abandon(stream_id)
            raise

    def abandon(self, stream_id: int) -> None:
        exchange = self._forget(stream_id)
        if exchange is not None and self.lost is None:
            with contextlib.suppress(ValueError):
                self._conn.stop_stream(stream_id, ErrorCode.H3_REQUEST_CANCELLED)
            self.schedule_transmit()

    def _forget(self, stream_id: int) -> _Exchange | None:
        self._conn.flow_control.pop(stream_id, None)
        return self._exchanges.pop(stream_id, None)

    # -- receiving

    def datagram_received(self, data: bytes | str, addr: NetworkAddress) -> None:
        self._quic.receive_datagram(cast(bytes, data), addr, now=self._loop.time())
        self._process_events()
        self.schedule_transmit()

    def error_received(self, exc: Exception) -> None:
        # ICMP errors reach a connected UDP socket only; before the handshake they mean that
        # nothing listens there. Later ones are left to QUIC's loss recovery.
        if not self._established.done():
            self.lost = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._established.set_result(f"unreachable over HTTP/3 (UDP): {self.lost}")

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted):
            if not self._established.done():
                self._established.set_result(None)
        elif isinstance(event, ConnectionTerminated):
            reason = event.reason_phrase or _ERROR_NAMES.get(event.error_code, "")
            self._terminated(reason or f"error {event.error_code:#x}")
            return
        if isinstance(event, StreamReset):
            exchange = self._forget(event.stream_id)
            if exchange is not None:
                code = _ERROR_NAMES.get(event.error_code, f"{event.error_code:#x}")
                rejected = event.error_code == ErrorCode.H3_REQUEST_REJECTED
                self.refusing = self.refusing or rejected
                _fail(
                    exchange,
                    TransferError(f"stream reset by the registry ({code})", reconnect=rejected),
                )
            return
        # Protocol errors close the connection inside aioquic (ConnectionTerminated follows).
        http_events = self._http.handle_event(event)
        for http_event in http_events:
            self._http_event_received(http_event)

    def _http_event_received(self, event: H3Event) -> None:
        if not isinstance(event, HeadersReceived | DataReceived):
            return
        exchange = self._exchanges.get(event.stream_id)
        if exchange is None:
            return
        if isinstance(event, DataReceived):
            exchange.body.feed(event.data)
        elif not exchange.head.done():
            try:
                status = _status_of(event.headers)
            except (TransferError, ValueError):
                self._forget(event.stream_id)
                _fail(exchange, TransferError("the registry sent a malformed response head"))
                return
            if 100 <= status < 200 and not event.stream_ended:
                return  # an interim response; the final one follows (RFC 9114 section 4.1)
            headers = tuple(
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in event.headers
                if not name.startswith(b":")
            )
            exchange.head.set_result(
                H3Response(self, event.stream_id, status, headers, exchange.body)
            )
        if event.stream_ended:
            self._forget(event.stream_id)
            exchange.body.end()

    def _terminated(self, reason: str) -> None:
        if self.lost is None:
            self.lost = reason
        error = TransferError(f"connection lost: {self.lost}", reconnect=True)
        for stream_id in list(self._exchanges):
            exchange = self._forget(stream_id)
            if exchange is not None:
                _fail(exchange, error)
        if not self._established.done():
            self._established.set_result(f"QUIC handshake failed: {self.lost}")


def _fail(exchange: _Exchange, error: TransferError) -> None:
    if not exchange.head.done():
        exchange.head.set_exception(error)
    exchange.body.fail(error)


def _enlarge_buffers(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
