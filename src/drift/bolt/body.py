"""The body of one HTTP/3 response: the shared receive buffer of ``drift.quic.flow``.

The connection feeds DATA frame payloads in as they arrive; ``download`` reads them in large
pieces (``read(min_bytes=...)``), at most the connection's ``window`` behind the registry
(``drift.bolt.quic`` announces the stream's limit from what was read). A reset stream or a lost
connection fails it with ``drift.bolt.errors.TransferError``.
"""

from __future__ import annotations

from drift.quic.flow import ReceiveBuffer

__all__ = ["ResponseBody"]


class ResponseBody(ReceiveBuffer):
    """Reads raise the ``TransferError`` given to ``fail`` once the received bytes were read."""

    __slots__ = ()
