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
from typing import TYPE_CHECKING, Final

from drift.config.settings import Settings
from drift.registry.purge import purge_uploads
from drift.server.app import Application, build_application, tls_context
from drift.server.shutdown import StopRequest
from drift.storage import executor
from drift.storage.driver import StorageDriver
from drift.transports.aiohttp_adapter import AiohttpTransport

if TYPE_CHECKING:
    from drift.discovery import MdnsAnnouncer
    from drift.quic.listener import QuicListener

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
    settings: Settings,
    sock: socket.socket,
    secret: bytes,
    index: int,
    parent_fd: int | None,
    *,
    quic_sock: socket.socket | None = None,
) -> None:
    """Serve on ``sock`` (and HTTP/3 on the UDP ``quic_sock``) until SIGTERM/SIGINT or until the
    supervisor (``parent_fd``) dies, then shut down gracefully (``drift.server.shutdown``)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(settings, sock, secret, index, parent_fd, quic_sock=quic_sock))
    executor.shutdown(wait=False)


async def _purge_periodically(driver: StorageDriver, age: dt.timedelta) -> None:
    while True:
        try:
            await purge_uploads(driver, age)
        except Exception:
            _log.exception("upload purge failed")
        await asyncio.sleep(_PURGE_INTERVAL)


def _quic_listener(settings: Settings, app: Application) -> QuicListener:
    # Imported only when HTTP/3 is on: aioquic and the listener cost memory in every worker.
    from drift.quic.certificate import prepare_certificate  # noqa: PLC0415
    from drift.quic.listener import QuicListener  # noqa: PLC0415

    certificate = prepare_certificate(settings)  # made by ``drift serve``: only read here
    timeout = settings.server.shutdown_timeout_seconds
    return QuicListener(app.dispatcher, settings.quic, certificate, timeout, app.ops)


async def _serve(
    settings: Settings,
    sock: socket.socket,
    secret: bytes,
    index: int,
    parent_fd: int | None,
    *,
    quic_sock: socket.socket | None,
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
    alt_svc = f'h3=":{settings.quic.bind_port}"; ma=86400' if quic_sock is not None else None
    transport = AiohttpTransport(
        app.dispatcher,
        tls_context(settings),
        settings.server.shutdown_timeout_seconds,
        app.ops,
        alt_svc,
    )
    listener = None if quic_sock is None else _quic_listener(settings, app)
    if app.ops is not None:
        app.ops.start()
    await app.events.start()
    await app.registry.driver.prepare()
    await transport.start(sock)
    if listener is not None and quic_sock is not None:
        await listener.start(quic_sock)
    purger: asyncio.Task[None] | None = None
    announcer: MdnsAnnouncer | None = None
    if index == 0:  # one purger and one mDNS announcement per deployment node
        age = dt.timedelta(seconds=settings.registry.upload_purge_age_seconds)
        purger = loop.create_task(_purge_periodically(app.registry.driver, age))
        if settings.mdns.enabled:
            from drift.discovery import MdnsAnnouncer  # noqa: PLC0415 - zeroconf when on only

            quic_port = None if quic_sock is None else quic_sock.getsockname()[1]
            announcer = MdnsAnnouncer.start(settings, sock.getsockname()[1], quic_port)
    _log.debug("worker %d (pid %d) serving", index, os.getpid())
    await stop.wait()
    if announcer is not None:  # goodbye first: discovering clients stop choosing this node
        await announcer.close()
    app.probes.draining = True
    transport.begin_drain()
    if listener is not None:
        listener.begin_drain()
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
    await asyncio.gather(transport.stop(), *(() if listener is None else (listener.stop(),)))
    if app.ops is not None:
        await app.ops.close()  # the last access lines and tallies
    await app.events.close()
    await app.security.close()
    await app.registry.driver.close()
