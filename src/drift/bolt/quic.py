"""The pull client's ``QuicConnection``: the listener's paced receive flow control, client side.

``drift.quic.connection.PacedReceiveConnection`` serves both ends: for the response streams the
client registers in ``flow_control``, the ``MAX_STREAM_DATA`` it announces follows what the
reader consumed (RFC 9000 section 4.1) instead of aioquic's doubling as data arrives, so at most
a window of each response waits in memory while the disk lags. The connection-wide ``MAX_DATA``
may grow as aioquic grows it; the stream windows bound it.

Added here: the peer's certificate, for SPKI pinning (``drift.bolt.trust``). Like the server's
``drift.quic.connection`` this is written against aioquic 1.7 (pinned to ``<2``);
``drift.bolt.h3`` also calls aioquic's asyncio protocol helper ``_process_events``.
"""

from __future__ import annotations

from aioquic.quic.configuration import QuicConfiguration
from cryptography import x509

from drift.quic.connection import PacedReceiveConnection

__all__ = ["BoltQuicConnection"]


class BoltQuicConnection(PacedReceiveConnection):
    def __init__(self, configuration: QuicConfiguration) -> None:
        super().__init__(configuration=configuration)

    def peer_certificate(self) -> x509.Certificate | None:
        """The leaf certificate the registry presented (None before the handshake)."""
        context = getattr(self, "tls", None)
        certificate: x509.Certificate | None = getattr(context, "_peer_certificate", None)
        return certificate
