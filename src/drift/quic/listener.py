"""The HTTP/3 listener: a UDP socket, the QUIC connections on it, and the requests they carry.

It routes each datagram to its connection by destination connection ID, accepts new connections
from client Initial packets (RFC 9000 section 14.1: at least 1200 bytes), answers unknown QUIC
versions with Version Negotiation, and runs every request through the same dispatcher and
instrumentation as the HTTP/1.1 transport, with ``transport="h3"``.

With several worker processes each worker binds its own ``SO_REUSEPORT`` socket on the port; the
kernel picks the socket by hashing the client's address and port, so the datagrams of one
connection always reach the worker that holds it. A client that migrates to another address or
port (RFC 9000 section 9) may hash to another worker, which does not know the connection and
drops its packets: the client then opens a new connection. Migration is only supported with one
worker.

Shutdown mirrors the HTTP/1.1 transport: ``begin_drain`` sends GOAWAY on every connection,
``stop`` refuses new connections and requests, gives in-flight requests the shutdown timeout,
cancels what still runs, then closes every connection (H3_NO_ERROR) and the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Final, cast

from aioquic._buffer import Buffer
from aioquic.h3.connection import H3_ALPN, ErrorCode
from aioquic.quic.configuration import SMALLEST_MAX_DATAGRAM_SIZE, QuicConfiguration
from aioquic.quic.connection import NetworkAddress
from aioquic.quic.packet import (
    QuicPacketType,
    encode_quic_version_negotiation,
    pull_quic_header,
)

from drift.config.settings import QuicSettings
from drift.core.http import Request, Response
from drift.ops.instrument import Operations
from drift.quic.certificate import QuicCertificate
from drift.quic.connection import MAX_DATAGRAM_SIZE, DriftQuicConnection
from drift.quic.exchange import Exchange
from drift.quic.protocol import H3Protocol
from drift.quic.response import write_response
from drift.transports.inflight import InFlight

__all__ = ["RECEIVE_WINDOW", "QuicListener"]

_log = logging.getLogger(__name__)
RECEIVE_WINDOW: Final = 1 << 20  # per request stream: bytes a client may send ahead of the handler
_CID_LENGTH: Final = 8
_CANCEL_GRACE: Final = 1.0
_DELIVERY_POLL: Final = 0.05
_SOCKET_BUFFER: Final = 4 << 20

CoreHandler = Callable[[Request], Awaitable[Response]]


class QuicListener(asyncio.DatagramProtocol):
    def __init__(
        self,
        handler: CoreHandler,
        settings: QuicSettings,
        certificate: QuicCertificate,
        shutdown_timeout: float = 30.0,
        ops: Operations | None = None,
    ) -> None:
        self._handler = handler
        self._ops = ops
        self._settings = settings
        self._shutdown_timeout = shutdown_timeout
        self._configuration = QuicConfiguration(
            is_client=False,
            alpn_protocols=H3_ALPN,
            connection_id_length=_CID_LENGTH,
            idle_timeout=float(settings.idle_timeout_seconds),
            max_datagram_size=settings.max_datagram_size,
            max_stream_data=RECEIVE_WINDOW,
        )
        self._configuration.load_cert_chain(certificate.chain, certificate.key)
        if settings.max_datagram_size > MAX_DATAGRAM_SIZE:
            _log.warning(
                "quic.max_datagram_size %d is more than aioquic can fill: using %d",
                settings.max_datagram_size,
                MAX_DATAGRAM_SIZE,
            )
        self._connections: dict[bytes, H3Protocol] = {}  # every connection ID in use
        self._protocols: set[H3Protocol] = set()
        self._transport: asyncio.DatagramTransport | None = None
        self._accepting = True
        self._draining = False
        self._in_flight = InFlight()
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            logging.getLogger("quic").setLevel(logging.WARNING)  # aioquic logs per connection

    @property
    def accepting(self) -> bool:
        return self._accepting

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def connection_count(self) -> int:
        return len(self._protocols)

    async def start(self, sock: socket.socket) -> None:
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, sock=sock)

    def begin_drain(self) -> None:
        """GOAWAY on every connection; later connections get it after their first request (as
        HTTP/1.1 responses close their connection while draining)."""
        self._draining = True
        for protocol in list(self._protocols):
            protocol.goaway()

    async def stop(self) -> None:
        self._accepting = False
        self.begin_drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._shutdown_timeout
        if not await self._in_flight.settled(self._shutdown_timeout):
            _log.warning(
                "%d HTTP/3 request(s) still running after the shutdown timeout: cancelling them",
                self._in_flight.count,
            )
            for protocol in list(self._protocols):
                for exchange in list(protocol.exchanges):
                    exchange.abort("server shutting down")
            await self._in_flight.settled(_CANCEL_GRACE)
        # A handler is done once its last bytes are queued: give the peer the rest of the
        # deadline to receive and acknowledge them before the connections close. aioquic signals
        # no acknowledgement, so poll.
        while loop.time() < deadline and self._delivering():  # noqa: ASYNC110
            await asyncio.sleep(_DELIVERY_POLL)
        for protocol in list(self._protocols):
            protocol.close(error_code=ErrorCode.H3_NO_ERROR, reason_phrase="server shutting down")
        if self._transport is not None:
            self._transport.close()

    def _delivering(self) -> bool:
        return any(protocol.responses_in_flight for protocol in self._protocols)

    # -- asyncio.DatagramProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: NetworkAddress) -> None:
        if data and not data[0] & 0x80:
            # A short header (RFC 9000 section 17.3): the destination connection ID follows the
            # first byte; only established connections send these.
            known = self._connections.get(data[1 : 1 + _CID_LENGTH])
            if known is not None:
                known.datagram_received(data, addr)
            return
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=_CID_LENGTH)
        except ValueError:
            return
        supported = self._configuration.supported_versions
        if (
            header.packet_type is not QuicPacketType.VERSION_NEGOTIATION
            and header.version is not None
            and header.version not in supported
        ):
            assert self._transport is not None
            self._transport.sendto(
                encode_quic_version_negotiation(
                    source_cid=header.destination_cid,
                    destination_cid=header.source_cid,
                    supported_versions=supported,
                ),
                addr,
            )
            return
        protocol = self._connections.get(header.destination_cid)
        if protocol is None:
            if (
                not self._accepting
                or header.packet_type is not QuicPacketType.INITIAL
                or len(data) < SMALLEST_MAX_DATAGRAM_SIZE
            ):
                return
            protocol = self._open(header.destination_cid, addr)
        protocol.datagram_received(data, addr)

    def _open(self, original_cid: bytes, addr: NetworkAddress) -> H3Protocol:
        connection = DriftQuicConnection(
            configuration=self._configuration,
            original_destination_connection_id=original_cid,
            max_streams=self._settings.max_streams,
        )
        assert self._transport is not None
        protocol = H3Protocol(connection, self, self._transport, str(addr[0]), RECEIVE_WINDOW)
        self._connections[original_cid] = protocol
        self._connections[connection.host_cid] = protocol
        self._protocols.add(protocol)
        return protocol

    # -- drift.quic.protocol.ConnectionHost

    def register(self, connection_id: bytes, protocol: H3Protocol) -> None:
        self._connections[connection_id] = protocol

    def forget(self, connection_id: bytes) -> None:
        self._connections.pop(connection_id, None)

    def closed(self, protocol: H3Protocol) -> None:
        self._protocols.discard(protocol)
        for connection_id in [cid for cid, p in self._connections.items() if p is protocol]:
            del self._connections[connection_id]

    def serve(self, exchange: Exchange) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self._serve(exchange))

    async def _serve(self, exchange: Exchange) -> None:
        self._in_flight.enter()
        try:
            exchange.complete = await self._exchange(exchange)
        finally:
            self._in_flight.leave()

    async def _exchange(self, exchange: Exchange) -> bool:
        """Dispatch and answer one request; False when the response could not be completed."""
        request, ops = exchange.request, self._ops
        record = None if ops is None else ops.begin(request)
        status = 499  # no response: the request was cancelled
        try:
            if ops is None or record is None:
                response = await self._handler(request)
            else:
                response = await ops.dispatcher(request, record)
                ops.stamp(response, record)
            status = response.status
            await write_response(exchange, response)
        except ConnectionError as exc:  # StreamAbortedError included: the client went away
            _log.debug("HTTP/3 stream %d ended early: %s", exchange.stream_id, exc)
            return False
        except Exception:
            _log.exception("HTTP/3 response to %s %s failed", request.method, request.path)
            return False
        finally:
            if ops is not None and record is not None:
                ops.finish(request, record, status, exchange.body.received, exchange.sent)
        return True
