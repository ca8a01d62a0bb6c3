"""The body of an HTTP/3 request: a bounded buffer between the QUIC stream and the handler.

The transport feeds DATA frame payloads in as they arrive; the handler reads at its own pace,
at most ``window`` bytes behind (``drift.quic.flow``: the connection advertises the stream's
flow-control limit from what the handler consumed, so a slow disk slows the client down instead
of filling the memory). A stream reset or a lost connection makes reads fail with
``BodyIncompleteError`` once the bytes that did arrive were read.
"""

from __future__ import annotations

from drift.core.http import BodyIncompleteError
from drift.quic.flow import ReceiveBuffer

__all__ = ["H3RequestBody"]


class H3RequestBody(ReceiveBuffer):
    """A ``drift.core.http.RequestBody`` and a ``drift.quic.connection.ReceiveWindow``."""

    __slots__ = ()

    def abort(self, reason: str) -> None:
        """The stream was reset or the connection lost: reads fail once the buffer is empty."""
        self.fail(BodyIncompleteError(reason))
