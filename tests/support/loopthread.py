"""A loopback TCP server whose asyncio loop runs in a thread of its own, so that synchronous
test code and the driver's own event loop can both talk to it (the test relays)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Self

from tests.support.lifecycle import ClosesOnExit
from tests.support.servers import free_port

__all__ = ["ThreadedServer"]


class ThreadedServer(ClosesOnExit):
    """Listens on 127.0.0.1:``port`` from ``start`` to ``close``; subclasses say what a
    connection gets (``_listen``) and how they end (``_shutdown``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> Self:
        self._thread.start()
        self._call(self._listen()).result(timeout=10)
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._shutdown()).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _listen(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        raise NotImplementedError
