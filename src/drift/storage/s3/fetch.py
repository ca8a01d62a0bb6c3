"""Object bytes fetched without an HTTP client library: a GET on a plain asyncio connection
whose body the kernel copies straight into one buffer.

Why: blob GETs are the hot path of proxied pulls. With several at once, aiobotocore's HTTP
client (aiohttp) spends about 1.1 s of CPU per GB in its parser and stream buffers (every
piece copied twice, a timer rescheduled per piece), against about 0.3 s/GB for a
``BufferedProtocol`` that ``recv_into`` fills (8 concurrent GETs of SeaweedFS here; with one
GET both cost about 0.3 s/GB). Every other request still goes through botocore.

Listings and small objects come the same way (``get_document``): botocore spends about 0.1 ms
of CPU per listed key parsing its XML into dictionaries (a timestamp parsed by dateutil per
key), which made the listing that opens an upload's writer (every PATCH) cost ~10 ms for 64
segments and ~50 ms for 640.

What it speaks: HTTP/1.1 GET of a presigned URL (the caller signs it; ``Range`` is not part of
the signature), over TCP or TLS (https; ``AWS_CA_BUNDLE`` as botocore reads it). The response
head is parsed here; an object's body needs a ``Content-Length``, a document's may also come
chunked (AWS sends listings so). An error answer becomes the
``ClientError`` botocore would have raised, from the code and message of its XML, so that
errors are translated in one place (``S3Connection.translate``). Connections are kept alive
and reused; a reused one that turns out closed is replaced at once. Throttling, 5xx answers and
failed connections are retried with jittered backoff, ``max_attempts`` tries in all, under the
caller's deadline; each wait for body bytes is bounded by ``read_timeout``.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar, cast
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from drift.storage.s3.buffers import BufferPool
from drift.storage.s3.client import ClientOptions

__all__ = ["ChunkedBody", "FetchedBody", "Fetcher", "Response", "ResponseError"]

_BUFFER_SIZE: Final = 1 << 20
_HEAD_LIMIT: Final = 64 << 10
_ERROR_BODY_LIMIT: Final = 1 << 20
_DOCUMENT_LIMIT: Final = 16 << 20  # a listing page of 1,000 keys is ~300 KiB
_CHUNK_LINE_LIMIT: Final = 4 << 10
_RETRIED_STATUS: Final = frozenset({500, 502, 503, 504})
_RETRIED_CODES: Final = frozenset({"SlowDown", "Throttling", "RequestTimeout", "InternalError"})
_CODE: Final = re.compile(rb"<Code>([^<]*)</Code>")
_MESSAGE: Final = re.compile(rb"<Message>([^<]*)</Message>")
_T = TypeVar("_T")
_BACKOFF: Final = 0.05  # seconds, doubled per attempt (at most 1 s), full jitter


class ResponseError(ConnectionError):
    """S3's answer was not the HTTP/1.1 expected here (the connection is given up)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case


class _Exchange(asyncio.BufferedProtocol):
    """One connection: a request written, its response head parsed, then body bytes handed
    out of one buffer that the transport fills (reading pauses while it is full). The buffer
    is the pool's while the connection is idle."""

    def __init__(self, read_timeout: float, buffers: BufferPool) -> None:
        self._read_timeout = read_timeout  # each wait for body bytes
        self._buffers = buffers
        self._held: bytearray | None = None  # from the pool while an exchange runs
        self._start = self._end = 0  # the bytes received and not handed out yet
        self._transport: asyncio.Transport | None = None
        self._paused = False
        self._wake = asyncio.Event()
        self.response: Response | None = None
        self.failure: BaseException | None = None  # the connection ended (with this error)

    # -- transport callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    @property
    def _buffer(self) -> bytearray:
        if self._held is None:
            self._held = self._buffers.take()
        return self._held

    def get_buffer(self, sizehint: int) -> memoryview:  # noqa: ARG002 - all the room there is
        return memoryview(self._buffer)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        if self.response is None and not self._parse_head():
            return
        if self._end == len(self._buffer):
            if self._start:  # room at the front: move what is left there
                self._buffer[: self._end - self._start] = self._buffer[self._start : self._end]
                self._start, self._end = 0, self._end - self._start
            else:
                self._pause()
        self._wake.set()

    def eof_received(self) -> bool:
        self._ended(ResponseError("S3 closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc or ResponseError("S3 closed the connection"))

    # -- the exchange ---------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        return self.failure is None and self._transport is not None and self._start == self._end

    def send(self, request: bytes) -> None:
        assert self._transport is not None
        self.response = None
        self._transport.write(request)

    async def head(self) -> Response:
        while self.response is None:
            if self.failure is not None:
                raise self.failure
            self._wake.clear()
            await self._wake.wait()
        return self.response

    async def read(self, amount: int) -> bytes:
        """Up to ``amount`` bytes of what arrived after the head (waits for some)."""
        while self._start == self._end:
            if self.failure is not None:
                raise self.failure
            self._wake.clear()
            async with asyncio.timeout(self._read_timeout):
                await self._wake.wait()
        count = min(amount, self._end - self._start)
        chunk = bytes(memoryview(self._buffer)[self._start : self._start + count])
        self._start += count
        if self._start == self._end:
            self._start = self._end = 0
        if self._paused:
            self._paused = False
            assert self._transport is not None
            self._transport.resume_reading()
        return chunk

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._ended(ResponseError("connection given up"))
        self.idle()

    def idle(self) -> None:
        """Nothing is read until the next request: the buffer goes back to the pool."""
        if self._held is not None and self._start == self._end:
            self._buffers.give(self._held)
            self._held = None

    def _pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def _give_up(self, failure: BaseException) -> None:
        self._ended(failure)  # the reason, before ``abort`` records its own
        self.abort()

    def _ended(self, failure: BaseException) -> None:
        if self.failure is None:
            self.failure = failure
        self._wake.set()

    def _parse_head(self) -> bool:
        buffer = self._buffer
        at = buffer.find(b"\r\n\r\n", self._start, self._end)
        if at < 0:
            if self._end - self._start > _HEAD_LIMIT:
                self._give_up(ResponseError("S3 sent a response head of more than 64 KiB"))
            return False
        lines = buffer[self._start : at].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        status = rest[:3]
        if not version.startswith("HTTP/1.") or not status.isdigit():
            self._give_up(ResponseError(f"S3 sent no HTTP/1.1 status line: {lines[0][:80]!r}"))
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._start = at + 4
        if self._start == self._end:
            self._start = self._end = 0
        self.response = Response(int(status), headers)
        return True


class FetchedBody:
    """The body of a successful GET: ``read`` as botocore's streaming body offers it; the
    connection goes back to the pool once every byte was read, and is closed by ``close``
    before that."""

    def __init__(self, fetcher: Fetcher, origin: _Origin, exchange: _Exchange, length: int):
        self._fetcher = fetcher
        self._origin = origin
        self._exchange: _Exchange | None = exchange
        self._remaining = length

    async def read(self, amt: int | None = None) -> bytes:
        exchange = self._exchange
        if exchange is None or not self._remaining:
            return b""
        amount = self._remaining if amt is None or amt < 0 else min(amt, self._remaining)
        chunk = await exchange.read(amount)
        self._remaining -= len(chunk)
        if not self._remaining:
            self._exchange = None
            self._fetcher.release(self._origin, exchange)
        return chunk

    async def read_all(self, limit: int | None) -> bytes:
        """Every byte of the body, at most ``limit`` of them (when given)."""
        if limit is not None and self._remaining > limit:
            self.close()
            raise ResponseError(f"S3 sent a document of {self._remaining} bytes")
        pieces = []
        while piece := await self.read():
            pieces.append(piece)
        return b"".join(pieces)

    def close(self) -> None:
        if self._exchange is not None:
            self._exchange.abort()
            self._exchange = None


class ChunkedBody:
    """A body sent with ``Transfer-Encoding: chunked``, read whole; the connection goes back to
    the pool after it."""

    def __init__(self, fetcher: Fetcher, origin: _Origin, exchange: _Exchange) -> None:
        self._fetcher = fetcher
        self._origin = origin
        self._exchange = exchange

    async def read_all(self, limit: int | None) -> bytes:
        decoder = _Dechunker(self._exchange)
        try:
            body = await decoder.body(limit)
        except BaseException:
            self._exchange.abort()
            raise
        if decoder.overran:
            self._exchange.abort()  # bytes after the body: the framing is not understood
        else:
            self._fetcher.release(self._origin, self._exchange)
        return body


class _Dechunker:
    """Decodes a chunked body (RFC 9112 section 7.1) as it arrives on an exchange; chunk
    extensions and trailer fields are skipped."""

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange
        self._pending = bytearray()  # received, not decoded yet

    @property
    def overran(self) -> bool:
        """Bytes came after the body's end."""
        return bool(self._pending)

    async def body(self, limit: int | None) -> bytes:
        body = bytearray()
        while size := await self._chunk_size():
            if limit is not None and len(body) + size > limit:
                raise ResponseError(f"S3 sent a body of more than {limit} bytes")
            body += await self._take(size)
            if await self._take(2) != b"\r\n":
                raise ResponseError("S3 sent a chunk longer than announced")
        while await self._line():  # trailer fields, up to an empty line
            pass
        return bytes(body)

    async def _chunk_size(self) -> int:
        line = (await self._line()).partition(b";")[0].strip()
        try:
            return int(line, 16)
        except ValueError:
            raise ResponseError(f"S3 sent a bad chunk size: {line[:40]!r}") from None

    async def _line(self) -> bytes:
        while (end := self._pending.find(b"\r\n")) < 0:
            if len(self._pending) > _CHUNK_LINE_LIMIT:
                raise ResponseError("S3 sent a chunk line of more than 4 KiB")
            self._pending += await self._exchange.read(_BUFFER_SIZE)
        line = bytes(self._pending[:end])
        del self._pending[: end + 2]
        return line

    async def _take(self, count: int) -> bytes:
        while len(self._pending) < count:
            self._pending += await self._exchange.read(count - len(self._pending))
        taken = bytes(self._pending[:count])
        del self._pending[:count]
        return taken


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int


class Fetcher:
    """GETs of presigned URLs, over connections kept alive (at most ``max_pool_connections``
    idle ones)."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self._idle: dict[_Origin, list[_Exchange]] = {}
        self._buffers = BufferPool(_BUFFER_SIZE)
        self._tls: ssl.SSLContext | None = None

    async def get(self, url: str, byte_range: str | None = None) -> tuple[Response, FetchedBody]:
        """The response to a GET of ``url`` (status 200 or 206) and its body; an error answer
        raises ``ClientError``, a failed exchange ``OSError``, after the retries."""

        async def once() -> tuple[Response, FetchedBody]:
            response, body = await self._get_once(url, byte_range, chunked=False)
            assert isinstance(body, FetchedBody)
            return response, body

        return await self._retried(once)

    async def get_document(self, url: str, limit: int | None = _DOCUMENT_LIMIT) -> bytes:
        """The whole body of a GET of ``url``, which may come chunked: a document (a listing,
        at most ``limit`` bytes) or an object read whole (``limit=None``). Errors as ``get``;
        a body cut short is asked for again."""

        async def once() -> bytes:
            _, body = await self._get_once(url, None, chunked=True)
            return await body.read_all(limit)

        return await self._retried(once)

    async def _retried(self, attempt_once: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 0
        while True:
            try:
                return await attempt_once()
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                code = exc.response.get("Error", {}).get("Code", "")
                if status not in _RETRIED_STATUS and code not in _RETRIED_CODES:
                    raise
                failure: Exception = exc
            except OSError as exc:
                failure = exc
            attempt += 1
            if attempt >= self.options.max_attempts:
                raise failure
            await asyncio.sleep(random.uniform(0, min(1.0, _BACKOFF * 2**attempt)))  # noqa: S311

    def release(self, origin: _Origin, exchange: _Exchange) -> None:
        idle = self._idle.setdefault(origin, [])
        if exchange.reusable and len(idle) < self.options.max_pool_connections:
            exchange.idle()
            idle.append(exchange)
        else:
            exchange.abort()

    def close(self) -> None:
        for idle in self._idle.values():
            for exchange in idle:
                exchange.abort()
        self._idle.clear()

    async def _get_once(
        self, url: str, byte_range: str | None, *, chunked: bool
    ) -> tuple[Response, FetchedBody | ChunkedBody]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"cannot fetch a {scheme!r} URL")
        origin = _Origin(scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = f"{parts.path or '/'}{'?' if parts.query else ''}{parts.query}"
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: drift"]
        if byte_range is not None:
            lines.append(f"Range: {byte_range}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        while True:
            exchange, reused = await self._exchange(origin)
            exchange.send(request)
            try:
                response = await exchange.head()
            except OSError:
                exchange.abort()
                if reused:  # the server closed it while idle: a new connection, at once
                    continue
                raise
            except BaseException:
                exchange.abort()
                raise
            return response, await self._body(origin, exchange, response, chunked)

    async def _exchange(self, origin: _Origin) -> tuple[_Exchange, bool]:
        idle = self._idle.get(origin, [])
        while idle:
            exchange = idle.pop()
            if exchange.reusable:
                return exchange, True
            exchange.abort()
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if origin.scheme == "https" else None
        async with asyncio.timeout(self.options.connect_timeout):
            _, exchange = await loop.create_connection(
                lambda: _Exchange(self.options.read_timeout, self._buffers),
                origin.host,
                origin.port,
                ssl=tls,
            )
        return exchange, False

    async def _body(
        self, origin: _Origin, exchange: _Exchange, response: Response, chunked_ok: bool
    ) -> FetchedBody | ChunkedBody:
        headers = response.headers
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length", "")
        if response.status in {200, 206}:
            if chunked and chunked_ok:
                return ChunkedBody(self, origin, exchange)
            if not chunked and length.isdigit():
                return FetchedBody(self, origin, exchange, int(length))
        try:
            if response.status in {200, 206}:
                raise ResponseError("S3 answered a GET without a Content-Length")
            raise await _error(exchange, response)
        finally:
            exchange.abort()  # what is left of an error body is not worth reading to reuse it

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
        return self._tls


async def _error(exchange: _Exchange, response: Response) -> ClientError:
    """The ``ClientError`` botocore raises for an S3 error answer (its XML body's code and
    message; the status alone when there is none)."""
    body = b""
    try:
        if "chunked" in response.headers.get("transfer-encoding", "").lower():
            body = await _Dechunker(exchange).body(_ERROR_BODY_LIMIT)
        else:
            length = response.headers.get("content-length", "")
            wanted = min(int(length), _ERROR_BODY_LIMIT) if length.isdigit() else _ERROR_BODY_LIMIT
            while len(body) < wanted and b"</Error>" not in body:
                body += await exchange.read(wanted - len(body))
    except (OSError, TimeoutError):
        pass  # an error without (all of) its body: the status still tells
    code = _CODE.search(body)
    message = _MESSAGE.search(body)
    error = {
        "Code": code.group(1).decode("utf-8", "replace") if code else str(response.status),
        "Message": message.group(1).decode("utf-8", "replace") if message else "",
    }
    return ClientError(
        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": response.status}},  # type: ignore[typeddict-item]
        "GetObject",
    )
