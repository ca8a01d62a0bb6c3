"""A ``QuicListener`` in this process, serving a handler the test writes, on its own loop thread.

For the tests that look inside the transport (flow control, stream limits, idle timeout,
shutdown): the handler runs on the listener's loop and can see the request body's buffer; the
test drives an ``H3Client`` from its own thread and reaches into the loop with ``call``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from drift.config.settings import QuicSettings, Settings, StorageSettings
from drift.core.http import Request, Response
from drift.quic.certificate import prepare_certificate
from drift.quic.listener import QuicListener
from tests.support.h3client import H3Client
from tests.support.lifecycle import ClosesOnExit

__all__ = ["ListenerThread"]

_T = TypeVar("_T")
Handler = Callable[[Request], Awaitable[Response]]


class ListenerThread(ClosesOnExit):
    def __init__(self, handler: Handler, data_dir: Path, **quic: Any) -> None:
        settings = Settings(
            storage=StorageSettings(fs_root=data_dir),
            quic=QuicSettings(bind_address="127.0.0.1", **quic),
        )
        self.certificate = prepare_certificate(settings)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.listener = QuicListener(handler, settings.quic, self.certificate, shutdown_timeout=5)
        self.call(self.listener.start(self._sock))
        self._stopped = False

    def call(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 30) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def soon(self, callback: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(callback)

    def client(self, **options: Any) -> H3Client:
        return H3Client("127.0.0.1", self.port, cafile=str(self.certificate.chain), **options)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.call(self.listener.stop())

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
            self._sock.close()
