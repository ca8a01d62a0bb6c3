"""One QUIC connection speaking HTTP/3: stream events in, exchanges out, responses back.

A request stream becomes an ``Exchange`` once its HEADERS frame arrived; the listener runs the
handler in a task of its own. DATA frames feed the exchange's bounded body. A RESET_STREAM from
the client (RFC 9114 section 4.1.1: it cancels the request), its STOP_SENDING (it no longer
wants the response) and the loss of the connection abort the exchange: the handler task is
cancelled, its body reads and writes fail. Uploads keep what they received (the client resumes
from the upload's ``Range``), exactly as when an HTTP/1.1 connection drops.

The connection sends after each batch of received datagrams and timer events, and once per loop
iteration after the handlers wrote (``schedule_transmit``), so that writes of many streams leave
in shared packets; its timer acts on its deadline (``drift.quic.timely``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final, Protocol

from aioquic.h3.connection import H3_ALPN, ErrorCode, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.events import (
    ConnectionIdIssued,
    ConnectionIdRetired,
    ConnectionTerminated,
    HandshakeCompleted,
    ProtocolNegotiated,
    QuicEvent,
    StopSendingReceived,
    StreamReset,
)

from drift.quic.body import H3RequestBody
from drift.quic.connection import DriftQuicConnection, send_goaway
from drift.quic.exchange import LOW_WATER, Exchange
from drift.quic.messages import request_from_fields
from drift.quic.timely import TimelyProtocol

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ConnectionHost", "H3Protocol"]

_log = logging.getLogger(__name__)
Fields = list[tuple[bytes, bytes]]
_ALPN: Final = frozenset(H3_ALPN)


class ConnectionHost(Protocol):
    """What a connection needs from the listener that accepted it."""

    @property
    def accepting(self) -> bool: ...

    @property
    def draining(self) -> bool: ...

    def register(self, connection_id: bytes, protocol: H3Protocol) -> None: ...

    def forget(self, connection_id: bytes) -> None: ...

    def closed(self, protocol: H3Protocol) -> None: ...

    def serve(self, exchange: Exchange) -> asyncio.Task[None]:
        """Run the exchange's handler and write its response, in a task of its own."""
        ...


class H3Protocol(TimelyProtocol):
    def __init__(
        self,
        quic: DriftQuicConnection,
        host: ConnectionHost,
        transport: asyncio.DatagramTransport,
        remote: str,
        window: int,
    ) -> None:
        super().__init__(quic)
        self.connection_made(transport)  # the listener's socket, shared by its connections
        self.remote = remote
        self._event_loop = asyncio.get_running_loop()
        self._conn = quic
        self._host = host
        self._window = window
        self._http: H3Connection | None = None
        self._exchanges: dict[int, Exchange] = {}
        self._blocked: dict[int, Exchange] = {}  # waiting for their send buffer to drain
        self._next_request_stream = 0
        self._refuse_from: int | None = None  # set by GOAWAY: later request streams are refused

    @property
    def exchanges(self) -> Iterable[Exchange]:
        return self._exchanges.values()

    @property
    def responses_in_flight(self) -> int:
        """Responses not yet acknowledged in full (their handlers may have ended already)."""
        return self._conn.responses_in_flight()

    # -- sending (``drift.quic.exchange.StreamIO``)

    def send_headers(self, stream_id: int, fields: Fields, end_stream: bool) -> None:
        assert self._http is not None
        self._http.send_headers(stream_id, fields, end_stream)
        self.schedule_transmit()

    def send_data(self, stream_id: int, data: bytes, end_stream: bool) -> None:
        assert self._http is not None
        self._http.send_data(stream_id, data, end_stream)
        self.schedule_transmit()

    def send_buffered(self, stream_id: int) -> int:
        return self._conn.send_buffered(stream_id)

    def wait_drained(self, exchange: Exchange) -> asyncio.Future[None]:
        waiter = self._event_loop.create_future()
        exchange.waiter = waiter
        self._blocked[exchange.stream_id] = exchange
        return waiter

    def send_due(self, now: float) -> bool:
        sent = super().send_due(now)
        if sent and self._blocked:
            self._wake_drained()
        return sent

    def _wake_drained(self) -> None:
        for stream_id, exchange in list(self._blocked.items()):
            if self._conn.send_buffered(stream_id) <= LOW_WATER:
                del self._blocked[stream_id]
                exchange.wake()

    # -- life cycle

    def goaway(self) -> None:
        """Accept no new requests on this connection (in-flight ones go on)."""
        if self._refuse_from is None and self._http is not None:
            self._refuse_from = self._next_request_stream
            send_goaway(self._http, self._conn, self._refuse_from)
            self.schedule_transmit()

    def _finished(self, exchange: Exchange) -> None:
        """The handler task of ``exchange`` ended (or was cancelled before it started)."""
        stream_id = exchange.stream_id
        self._exchanges.pop(stream_id, None)
        self._blocked.pop(stream_id, None)
        self._conn.flow_control.pop(stream_id, None)
        if exchange.aborted is None:
            if not exchange.complete:
                self._conn.reset_stream(stream_id, ErrorCode.H3_INTERNAL_ERROR)
            if not exchange.body.complete:  # answered before the body ended: stop the upload
                with contextlib.suppress(ValueError):
                    self._conn.stop_stream(stream_id, ErrorCode.H3_NO_ERROR)
            self.schedule_transmit()

    # -- events

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated):
            if event.alpn_protocol in _ALPN:
                self._http = H3Connection(self._conn)
        elif isinstance(event, HandshakeCompleted):
            size = self._conn.adopt_datagram_size()
            _log.debug(
                "QUIC connection from %s: %s, datagrams up to %d bytes",
                self.remote,
                event.alpn_protocol,
                size,
            )
        elif isinstance(event, ConnectionIdIssued):
            self._host.register(event.connection_id, self)
        elif isinstance(event, ConnectionIdRetired):
            self._host.forget(event.connection_id)
        elif isinstance(event, ConnectionTerminated):
            self._terminated()
            return
        if self._http is None:
            return
        for http_event in self._http.handle_event(event):
            self._http_event_received(http_event)
        if isinstance(event, StreamReset | StopSendingReceived):
            exchange = self._exchanges.get(event.stream_id)
            if exchange is not None:
                kind = "reset" if isinstance(event, StreamReset) else "STOP_SENDING"
                exchange.abort(f"{kind} by the client (code {event.error_code:#x})")

    def _http_event_received(self, event: H3Event) -> None:
        if isinstance(event, DataReceived):
            exchange = self._exchanges.get(event.stream_id)
            if exchange is not None:
                exchange.body.feed(event.data)
                if event.stream_ended:
                    exchange.body.end()
        elif isinstance(event, HeadersReceived):
            exchange = self._exchanges.get(event.stream_id)
            if exchange is None:
                self._start(event)
            elif event.stream_ended:  # trailers end the body; their fields are not used
                exchange.body.end()

    def _start(self, event: HeadersReceived) -> None:
        stream_id = event.stream_id
        self._next_request_stream = max(self._next_request_stream, stream_id + 4)
        refused = self._refuse_from is not None and stream_id >= self._refuse_from
        if refused or not self._host.accepting:
            self._refuse(stream_id, ErrorCode.H3_REQUEST_REJECTED)
            return
        body = H3RequestBody(self._window, self.schedule_transmit)
        request = request_from_fields(event.headers, body, self.remote)
        if request is None:
            self._refuse(stream_id, ErrorCode.H3_MESSAGE_ERROR)
            return
        if event.stream_ended:
            body.end()
        else:
            self._conn.flow_control[stream_id] = body
        exchange = Exchange(self, stream_id, request, body)
        self._exchanges[stream_id] = exchange
        exchange.task = self._host.serve(exchange)
        exchange.task.add_done_callback(lambda _: self._finished(exchange))
        if self._host.draining:
            self.goaway()

    def _refuse(self, stream_id: int, code: ErrorCode) -> None:
        self._conn.reset_stream(stream_id, code)
        with contextlib.suppress(ValueError):
            self._conn.stop_stream(stream_id, code)
        self.schedule_transmit()

    def _terminated(self) -> None:
        for exchange in list(self._exchanges.values()):
            exchange.abort("connection lost")
        self._blocked.clear()
        self.stop_timer()
        self._host.closed(self)
