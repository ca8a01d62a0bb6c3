"""The HTTP/1.1 transport: aiohttp's low-level server in front of the transport-neutral core."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.streams import StreamReader

from drift.core.http import BodyIncompleteError, FileBody, Request, Response, StreamBody
from drift.storage.executor import run_blocking
from drift.transports.sendfile import send_file_region

__all__ = ["AiohttpTransport"]

_log = logging.getLogger(__name__)
_READ_BUFFER: Final = 1 << 20
_SMALL_FILE: Final = 64 * 1024  # below this a plain write is cheaper than a sendfile hand-off
_TLS_CHUNK: Final = 1 << 20

CoreHandler = Callable[[Request], Awaitable[Response]]


class _AiohttpBody:
    __slots__ = ("_stream",)

    def __init__(self, stream: StreamReader) -> None:
        self._stream = stream

    async def read(self, max_bytes: int) -> bytes:
        try:
            return await self._stream.read(max_bytes)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiohttp reports a cut body with several exception types
            raise BodyIncompleteError(str(exc)) from exc


def _to_core(request: web.BaseRequest) -> Request:
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
        path=request.raw_path.split("?", 1)[0],
        query=request.query,
        headers=headers,
        body=_AiohttpBody(request.content),
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
    def __init__(self, handler: CoreHandler, ssl_context: ssl.SSLContext | None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._runner: web.ServerRunner | None = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        response = await self._handler(_to_core(request))
        body = response.body
        if isinstance(body, bytes):
            # One write for headers and body; aiohttp keeps our Content-Length (HEAD included).
            return web.Response(status=response.status, headers=response.headers, body=body)
        out = web.StreamResponse(status=response.status, headers=response.headers)
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
        return out

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
        server = web.Server(self._handle, access_log=None, read_bufsize=_READ_BUFFER)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=30.0)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=self._ssl)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
