"""A small blocking HTTP/1.1 client for black-box registry tests.

Built on ``http.client`` because the tests need what full-featured clients hide: request targets
sent byte-for-byte (``../``, ``%2e%2e``, encoded slashes are never normalised), every response
header including repeated ones, streamed and chunked request bodies, and requests that are cut
off on purpose (``send_truncated``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from tests.support.lifecycle import ClosesOnExit

__all__ = [
    "Body",
    "HeaderList",
    "HttpClient",
    "Reply",
    "chunks_of",
    "send_truncated",
    "with_query",
]

Body = bytes | Iterable[bytes] | None
HeaderList = Mapping[str, str] | Sequence[tuple[str, str]]

_SEND_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


@dataclass(frozen=True)
class Reply:
    """A complete response: status, headers in wire order (repeats kept) and the body."""

    method: str
    target: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_codes(self) -> list[str]:
        """The ``code`` of every error in an OCI error envelope (empty if there is none)."""
        try:
            document = self.json()
        except ValueError:
            return []
        if not isinstance(document, dict) or not isinstance(document.get("errors"), list):
            return []
        return [str(error.get("code")) for error in document["errors"] if isinstance(error, dict)]

    def __str__(self) -> str:
        shown = self.body[:600].decode("utf-8", "replace")
        heads = "".join(f"\n  {key}: {value}" for key, value in self.headers)
        return f"{self.method} {self.target} -> {self.status}{heads}\n  body: {shown!r}"


def with_query(target: str, **params: str | Sequence[str]) -> str:
    """Append query parameters to a target that may already carry an (opaque) query."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((key, item) for item in values)
    if not pairs:
        return target
    separator = "&" if "?" in target else "?"
    return f"{target}{separator}{urlencode(pairs)}"


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class HttpClient(ClosesOnExit):
    """One keep-alive connection to ``base_url``; request targets are sent exactly as given."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        on_reply: Callable[[Reply], None] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"expected http://host:port, got {base_url!r}")
        self.base_url = f"http://{parts.hostname}:{parts.port}"
        self.host = parts.hostname
        self.port = parts.port
        self.timeout = timeout
        self.on_reply = on_reply
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connect(self) -> http.client.HTTPConnection:
        """The live connection, opened if needed."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        if self._conn.sock is None:
            self._conn.connect()
        return self._conn

    @property
    def local_port(self) -> int:
        """Client-side port of the live connection (identifies it in ``/proc/net/tcp``)."""
        sock = self.connect().sock
        assert sock is not None
        port: int = sock.getsockname()[1]
        return port

    def target(self, url_or_target: str) -> str:
        """Path and query of a URL; relative ``Location`` values resolve against the server."""
        if url_or_target.startswith("/") and not url_or_target.startswith("//"):
            return url_or_target
        parts = urlsplit(urljoin(self.base_url + "/", url_or_target))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def request(
        self,
        method: str,
        target: str,
        *,
        body: Body = None,
        headers: HeaderList = (),
        content_length: int | None = None,
    ) -> Reply:
        """Send one request; an iterable body without ``content_length`` goes out chunked.

        A request whose body can be replayed is retried once on a fresh connection when a
        reused keep-alive connection turns out to have been closed by the server.
        """
        reused = self._conn is not None and self._conn.sock is not None
        replayable = body is None or isinstance(body, bytes)
        try:
            return self._request_once(method, target, body, headers, content_length)
        except (http.client.RemoteDisconnected, *_SEND_ERRORS):
            if not (reused and replayable):
                raise
        return self._request_once(method, target, body, headers, content_length)

    def _request_once(
        self,
        method: str,
        target: str,
        body: Body,
        headers: HeaderList,
        content_length: int | None,
    ) -> Reply:
        target = self.target(target)
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        names = {name.lower() for name, _ in pairs}
        conn = self.connect()
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            chunked = False
            if isinstance(body, bytes):
                if "content-length" not in names:
                    pairs.append(("Content-Length", str(len(body))))
            elif body is not None:
                if content_length is not None:
                    pairs.append(("Content-Length", str(content_length)))
                elif "content-length" not in names:
                    pairs.append(("Transfer-Encoding", "chunked"))
                    chunked = True
            elif method in {"POST", "PUT", "PATCH"} and "content-length" not in names:
                pairs.append(("Content-Length", "0"))
            for name, value in pairs:
                conn.putheader(name, value)
            conn.endheaders()
            send_error = self._send_body(conn, body, chunked=chunked)
            try:
                response = conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):
                if send_error is not None:
                    raise send_error from None
                raise
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        reply = Reply(
            method=method,
            target=target,
            status=response.status,
            headers=tuple(response.getheaders()),
            body=payload,
        )
        if self.on_reply is not None:
            self.on_reply(reply)
        return reply

    @staticmethod
    def _send_body(
        conn: http.client.HTTPConnection, body: Body, *, chunked: bool
    ) -> OSError | None:
        """Write the body; a server that answers early and closes ends the upload quietly."""
        if body is None:
            return None
        pieces: Iterable[bytes] = (body,) if isinstance(body, bytes) else body
        try:
            for piece in pieces:
                if not piece:
                    continue
                if chunked:
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                else:
                    conn.send(piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except _SEND_ERRORS as error:
            return error
        return None

    def get(self, target: str, *, headers: HeaderList = ()) -> Reply:
        return self.request("GET", target, headers=headers)

    def head(self, target: str, *, headers: HeaderList = ()) -> Reply:
        return self.request("HEAD", target, headers=headers)

    def delete(self, target: str, *, headers: HeaderList = ()) -> Reply:
        return self.request("DELETE", target, headers=headers)

    def post(self, target: str, *, body: Body = None, headers: HeaderList = ()) -> Reply:
        return self.request("POST", target, body=body, headers=headers)

    def put(self, target: str, *, body: Body = None, headers: HeaderList = ()) -> Reply:
        return self.request("PUT", target, body=body, headers=headers)

    def patch(self, target: str, *, body: Body = None, headers: HeaderList = ()) -> Reply:
        return self.request("PATCH", target, body=body, headers=headers)


def send_truncated(
    base_url: str,
    method: str,
    target: str,
    *,
    declared_length: int,
    data: bytes,
    headers: HeaderList = (),
) -> None:
    """Announce ``declared_length`` bytes, send only ``data``, then drop the connection."""
    assert len(data) < declared_length
    parts = urlsplit(base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    head = [f"{method} {target} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
    head += [f"{name}: {value}" for name, value in pairs]
    head.append(f"Content-Length: {declared_length}")
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        with contextlib.suppress(*_SEND_ERRORS):
            for piece in chunks_of(data, 64 * 1024):
                sock.sendall(piece)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
