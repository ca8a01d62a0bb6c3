"""The HTTP/1.1 transport: aiohttp's low-level server in front of the transport-neutral core."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.streams import StreamReader

from drift.core.http import BodyIncompleteError, FileBody, Request, Response, StreamBody
from drift.ops.instrument import Operations
from drift.storage.executor import run_blocking
from drift.transports.inflight import InFlight
from drift.transports.sendfile import send_file_region

__all__ = ["AiohttpTransport"]

_log = logging.getLogger(__name__)
_READ_BUFFER: Final = 1 << 20
_SMALL_FILE: Final = 64 * 1024  # below this a plain write is cheaper than a sendfile hand-off
_TLS_CHUNK: Final = 1 << 20
_CANCEL_GRACE: Final = 1.0  # after the shutdown timeout: for cancelled handlers to wind down

CoreHandler = Callable[[Request], Awaitable[Response]]


class _AiohttpBody:
    __slots__ = ("_stream", "received")

    def __init__(self, stream: StreamReader) -> None:
        self._stream = stream
        self.received = 0

    async def read(self, max_bytes: int) -> bytes:
        try:
            data = await self._stream.read(max_bytes)
            self.received += len(data)
            return data
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiohttp reports a cut body with several exception types
            raise BodyIncompleteError(str(exc)) from exc


def _target_path(target: str) -> str:
    """The path of a request target, undecoded and not normalised: of the origin form
    (``/v2/...?query``), or of the absolute form (``http://host/v2/...``), which RFC 9112
    section 3.2.2 has every server accept (a client may send a ``Location`` back verbatim)."""
    if not target.startswith("/"):
        target = urlsplit(target).path or "/"
    return target.split("?", 1)[0]


def _to_core(request: web.BaseRequest, body: _AiohttpBody) -> Request:
    headers = request.headers
    scheme = headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if scheme not in ("http", "https"):
        scheme = (
            "https"
            if request.transport and request.transport.get_extra_info("sslcontext")
            else "http"
        )
    host = headers.get("X-Forwarded-Host", "").split(",")[0].strip() or request.host
    return Request(
        method=request.method,
        path=_target_path(request.raw_path),
        query=request.query,
        headers=headers,
        body=body,
        scheme=scheme,
        host=host,
        remote=request.remote,
        transport="h1",
    )


def _read_region(path: str, offset: int, length: int) -> bytes:
    with open(path, "rb") as file:
        file.seek(offset)
        return file.read(length)


class AiohttpTransport:
    def __init__(
        self,
        handler: CoreHandler,
        ssl_context: ssl.SSLContext | None,
        shutdown_timeout: float = 30.0,
        ops: Operations | None = None,
        alt_svc: str | None = None,
    ) -> None:
        self._handler = handler
        self._alt_svc = alt_svc  # RFC 7838 Alt-Svc value advertising the HTTP/3 listener
        self._ops = ops
        self._ssl = ssl_context
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.ServerRunner | None = None
        self._draining = False
        self._in_flight = InFlight()

    def begin_drain(self) -> None:
        """From now on every response closes its connection (``Connection: close``)."""
        self._draining = True

    async def _handle_tracked(self, request: web.BaseRequest) -> web.StreamResponse:
        self._in_flight.enter()
        try:
            return await self._handle(request)
        finally:
            self._in_flight.leave()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = _AiohttpBody(request.content)
        core = _to_core(request, body)
        ops = self._ops
        if ops is None:
            out, _ = await self._respond(request, await self._handler(core))
            return out
        exchange = ops.begin(core)
        status, sent = 499, 0  # 499: no response (the request was cancelled)
        try:
            response = await ops.dispatcher(core, exchange)
            ops.stamp(response, exchange)
            status = response.status
            out, sent = await self._respond(request, response)
        finally:
            ops.finish(core, exchange, status, body.received, sent)
        return out

    async def _respond(
        self, request: web.BaseRequest, response: Response
    ) -> tuple[web.StreamResponse, int]:
        """Write ``response``; also return the body bytes sent (0 when the client went away)."""
        if self._alt_svc is not None:
            response.headers.setdefault("Alt-Svc", self._alt_svc)
        body = response.body
        if isinstance(body, bytes):
            # One write for headers and body; aiohttp keeps our Content-Length (HEAD included).
            done = web.Response(status=response.status, headers=response.headers, body=body)
            if self._draining:
                done.force_close()
            return done, len(body)
        out = web.StreamResponse(status=response.status, headers=response.headers)
        if self._draining:
            out.force_close()
        try:
            if isinstance(body, FileBody):
                await self._send_file(request, out, body)
            else:
                await self._send_stream(request, out, body)
            await out.write_eof()
        except (ConnectionError, TimeoutError) as exc:
            # The client went away mid-response: nothing to answer, nothing to log loudly.
            _log.debug("client gone during %s %s: %s", request.method, request.path, exc)
            if request.transport is not None:
                request.transport.close()
            return out, 0
        return out, body.length

    async def _send_file(
        self, request: web.BaseRequest, out: web.StreamResponse, body: FileBody
    ) -> None:
        await out.prepare(request)
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
        sock = transport.get_extra_info("socket")
        if self._ssl is not None or sock is None or body.length <= _SMALL_FILE:
            await self._write_chunks(out, body)
            return
        # The headers must leave before the file; transports signal only the high-water mark,
        # so poll the (tiny, normally already empty) buffer.
        while transport.get_write_buffer_size():  # noqa: ASYNC110
            await asyncio.sleep(0.0005)
        await send_file_region(sock.fileno(), body.path, body.offset, body.length)

    @staticmethod
    async def _write_chunks(out: web.StreamResponse, body: FileBody) -> None:
        offset, remaining = body.offset, body.length
        while remaining > 0:
            chunk = await run_blocking(_read_region, body.path, offset, min(remaining, _TLS_CHUNK))
            if not chunk:
                raise ConnectionResetError("file shrank while sending")
            await out.write(chunk)
            offset += len(chunk)
            remaining -= len(chunk)

    @staticmethod
    async def _send_stream(
        request: web.BaseRequest, out: web.StreamResponse, body: StreamBody
    ) -> None:
        await out.prepare(request)
        async for chunk in body.chunks:
            await out.write(chunk)

    async def start(self, sock: socket.socket) -> None:
        server = web.Server(self._handle_tracked, access_log=None, read_bufsize=_READ_BUFFER)
        self._runner = web.ServerRunner(
            server, handle_signals=False, shutdown_timeout=_CANCEL_GRACE
        )
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=self._ssl)
        await site.start()

    async def stop(self) -> None:
        """Close the listener, give in-flight requests the shutdown timeout to finish, then close
        every connection, cancelling what still runs.

        aiohttp's own graceful shutdown stops reading from connections at once, which would
        strand every upload in flight: the listener is closed first and requests are awaited
        here, while their bodies still arrive.
        """
        if self._runner is None:
            return
        for site in list(self._runner.sites):
            await site.stop()
        if not await self._in_flight.settled(self._shutdown_timeout):
            _log.warning(
                "%d request(s) still running after the shutdown timeout: cancelling them",
                self._in_flight.count,
            )
        await self._runner.cleanup()
