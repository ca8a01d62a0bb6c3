"""One serving process: an event loop (uvloop when installed) running the HTTP transport."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import os
import socket
from collections.abc import Callable
from typing import Final

from drift.config.settings import Settings
from drift.registry.purge import purge_uploads
from drift.server.app import build_application, tls_context
from drift.server.shutdown import StopRequest
from drift.storage import executor
from drift.storage.driver import StorageDriver
from drift.transports.aiohttp_adapter import AiohttpTransport

__all__ = ["run_worker"]

_log = logging.getLogger(__name__)
_PURGE_INTERVAL: Final = 3600.0
_GC_YOUNG_THRESHOLD: Final = 20_000


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop  # noqa: PLC0415 - optional accelerator
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_worker(
    settings: Settings, sock: socket.socket, secret: bytes, index: int, parent_fd: int | None
) -> None:
    """Serve on ``sock`` until SIGTERM/SIGINT or until the supervisor (``parent_fd``) dies, then
    shut down gracefully (``drift.server.shutdown``)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(settings, sock, secret, index, parent_fd))
    executor.shutdown(wait=False)


async def _purge_periodically(driver: StorageDriver, age: dt.timedelta) -> None:
    while True:
        try:
            await purge_uploads(driver, age)
        except Exception:
            _log.exception("upload purge failed")
        await asyncio.sleep(_PURGE_INTERVAL)


async def _serve(
    settings: Settings, sock: socket.socket, secret: bytes, index: int, parent_fd: int | None
) -> None:
    loop = asyncio.get_running_loop()
    stop = StopRequest()
    stop.install(parent_fd)
    app = build_application(settings, secret)
    # Start-up objects live forever: keep them out of every collection. A request allocates a
    # few hundred short-lived objects and hardly any cycles, so the default first-generation
    # threshold (700) would collect every few requests for nothing.
    gc.freeze()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, 20, 20)
    transport = AiohttpTransport(
        app.dispatcher, tls_context(settings), settings.server.shutdown_timeout_seconds, app.ops
    )
    if app.ops is not None:
        app.ops.start()
    await app.events.start()
    await transport.start(sock)
    purger: asyncio.Task[None] | None = None
    if index == 0:  # one purger per deployment node is enough
        age = dt.timedelta(seconds=settings.registry.upload_purge_age_seconds)
        purger = loop.create_task(_purge_periodically(app.registry.driver, age))
    _log.debug("worker %d (pid %d) serving", index, os.getpid())
    await stop.wait()
    app.probes.draining = True
    transport.begin_drain()
    _log.info(
        "worker %d draining for %d s, then finishing in-flight requests (at most %d s)",
        index,
        settings.server.drain_seconds,
        settings.server.shutdown_timeout_seconds,
    )
    await stop.drain(settings.server.drain_seconds)
    if purger is not None:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
    await transport.stop()
    if app.ops is not None:
        await app.ops.close()  # the last access lines and tallies
    await app.events.close()
    await app.security.close()
    await app.registry.driver.close()
