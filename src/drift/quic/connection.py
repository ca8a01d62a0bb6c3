"""aioquic's ``QuicConnection`` with the three controls Drift needs and aioquic has no knob for.

Every use of aioquic internals lives in this module (written against aioquic 1.7; the
dependency is pinned to ``<2``):

- Receive flow control that follows the application (``PacedReceiveConnection``, for any
  endpoint: a client reading responses can use it as well). aioquic raises a stream's
  ``MAX_STREAM_DATA`` as data *arrives* (doubling it once half is received), so a peer could
  push a whole blob into memory while the storage lags. For the streams registered in
  ``flow_control``, the limit advertised is instead what the reader consumed plus a fixed window
  (RFC 9000 section 4.1: "a receiver ... sends MAX_STREAM_DATA ... as data is consumed"), raised
  in steps of at least half a window: at most ``window`` bytes per stream wait in memory.
- Send-side accounting: ``send_buffered`` tells how many bytes of a stream aioquic holds that
  were never sent, for the response writer's water marks.
- GOAWAY (RFC 9114 section 5.2), which aioquic's ``H3Connection`` parses but cannot send.
- Datagram size: handshake packets stay at ``HANDSHAKE_DATAGRAM_SIZE`` (any path carries them),
  then the configured ``max_datagram_size`` applies, capped by the peer's
  ``max_udp_payload_size`` transport parameter (RFC 9000 section 18.2), which aioquic ignores,
  and by ``MAX_DATAGRAM_SIZE``: aioquic writes a STREAM frame's length as a two-byte varint
  (at most 16383), so larger packets would carry corrupt frames.

The concurrent request streams a client may open (``initial_max_streams_bidi``) are set from
``[quic] max_streams``; aioquic lets the peer open one more whenever a stream ends.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from aioquic._buffer import Buffer
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import FrameType, H3Connection, encode_frame
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import MAX_STREAM_DATA_FRAME_CAPACITY, QuicConnection
from aioquic.quic.packet import QuicFrameType, pull_quic_transport_parameters
from aioquic.quic.packet_builder import QuicPacketBuilder
from aioquic.quic.recovery import QuicPacketSpace
from aioquic.quic.stream import QuicStream
from aioquic.tls import ExtensionType

__all__ = [
    "HANDSHAKE_DATAGRAM_SIZE",
    "MAX_DATAGRAM_SIZE",
    "DriftQuicConnection",
    "PacedReceiveConnection",
    "ReceiveWindow",
    "send_goaway",
]

HANDSHAKE_DATAGRAM_SIZE: Final = 1350
MAX_DATAGRAM_SIZE: Final = 16384


class ReceiveWindow(Protocol):
    """What a flow-controlled stream's reader tells the connection."""

    @property
    def window(self) -> int:
        """Bytes the peer may send beyond what the reader consumed."""
        ...

    @property
    def buffered(self) -> int:
        """Bytes delivered by the transport that the reader has not consumed yet."""
        ...


class PacedReceiveConnection(QuicConnection):
    """A ``QuicConnection`` whose streams in ``flow_control`` get credit as they are read."""

    flow_control: dict[int, ReceiveWindow]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.flow_control = {}

    def _write_stream_limits(
        self, builder: QuicPacketBuilder, space: QuicPacketSpace, stream: QuicStream
    ) -> None:
        reader = self.flow_control.get(stream.stream_id)  # type: ignore[arg-type]
        if reader is None:
            super()._write_stream_limits(builder, space, stream)
            return
        # Everything the transport delivered and the reader no longer holds was consumed;
        # HTTP/3 framing counts as consumed on delivery.
        window = reader.window
        limit = stream.receiver.starting_offset() - reader.buffered + window
        if limit - stream.max_stream_data_local >= window // 2:
            stream.max_stream_data_local = limit
        if stream.max_stream_data_local_sent == stream.max_stream_data_local:
            return
        frame = builder.start_frame(
            QuicFrameType.MAX_STREAM_DATA,
            capacity=MAX_STREAM_DATA_FRAME_CAPACITY,
            handler=self._on_max_stream_data_delivery,
            handler_args=(stream,),
        )
        frame.push_uint_var(stream.stream_id)  # type: ignore[arg-type]
        frame.push_uint_var(stream.max_stream_data_local)
        stream.max_stream_data_local_sent = stream.max_stream_data_local


class DriftQuicConnection(PacedReceiveConnection):
    """The server side of one connection of the listener."""

    def __init__(
        self,
        *,
        configuration: QuicConfiguration,
        original_destination_connection_id: bytes,
        max_streams: int,
    ) -> None:
        super().__init__(
            configuration=configuration,
            original_destination_connection_id=original_destination_connection_id,
        )
        streams = self._local_max_streams_bidi  # announced as initial_max_streams_bidi
        streams.value = streams.sent = max_streams
        self._configured_datagram_size = min(configuration.max_datagram_size, MAX_DATAGRAM_SIZE)
        self._max_datagram_size = min(self._configured_datagram_size, HANDSHAKE_DATAGRAM_SIZE)

    def adopt_datagram_size(self) -> int:
        """After the handshake: the configured datagram size, capped by the peer's limit."""
        size = self._configured_datagram_size
        for extension, data in self.tls.received_extensions or ():
            if extension == ExtensionType.QUIC_TRANSPORT_PARAMETERS:
                announced = pull_quic_transport_parameters(Buffer(data=data)).max_udp_payload_size
                if announced is not None:
                    size = min(size, announced)
        self._max_datagram_size = size
        return size

    def send_buffered(self, stream_id: int) -> int:
        """Bytes of ``stream_id`` written but never sent yet (0 once the stream is gone).

        Bytes sent and not yet acknowledged stay in aioquic's buffer too, but they are bounded
        by the congestion window and the peer's flow control, not by the application.
        """
        stream = self._streams.get(stream_id)
        if stream is None:
            return 0
        sender = stream.sender
        return sender._buffer_stop - sender.highest_offset

    def responses_in_flight(self) -> int:
        """Request streams whose response the peer has not acknowledged in full yet."""
        return sum(
            1
            for stream_id, stream in self._streams.items()
            if stream_id % 4 == 0 and not stream.sender.is_finished
        )


def send_goaway(http: H3Connection, quic: QuicConnection, first_refused: int) -> None:
    """Tell the client that request streams from ``first_refused`` on will not be processed."""
    control = http._local_control_stream_id
    if control is not None:
        frame = encode_frame(FrameType.GOAWAY, encode_uint_var(first_refused))
        quic.send_stream_data(control, frame)
