"""A minimal keep-alive HTTP/1.1 client whose request bodies go out with sendfile.

Requests are written by hand so a blob body costs the client no per-chunk Python work; responses
are parsed by `http.client.HTTPResponse`.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlsplit

__all__ = ["Connection", "HttpError", "Payload", "Reply", "with_query"]

_READ_CHUNK: Final = 1 << 20


class HttpError(RuntimeError):
    pass


class Payload(Protocol):
    @property
    def length(self) -> int: ...

    def send(self, sock: socket.socket) -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        value = self.headers.get(name.lower())
        if value is None:
            raise HttpError(f"{self.status} reply without a {name} header")
        return value


def with_query(target: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{target}{'&' if '?' in target else '?'}{query}"


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def target_of(self, location: str) -> str:
        """The request target of a `Location` header, which may be absolute or relative."""
        parts = urlsplit(location)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str] | None = None,
        body: bytes | Payload = b"",
    ) -> Reply:
        sock = self._connected()
        self._send(sock, method, target, headers or {}, body)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        data = response.read()
        self._finish(response)
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def digest_of(self, target: str) -> tuple[int, int, str]:
        """GET `target` and hash the body with sha256: (status, body size, digest)."""
        sock = self._connected()
        self._send(sock, "GET", target, {}, b"")
        response = http.client.HTTPResponse(sock, method="GET")
        response.begin()
        state = hashlib.sha256()
        size = 0
        while chunk := response.read(_READ_CHUNK):
            state.update(chunk)
            size += len(chunk)
        self._finish(response)
        return response.status, size, f"sha256:{state.hexdigest()}"

    def _send(
        self,
        sock: socket.socket,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | Payload,
    ) -> None:
        length = len(body) if isinstance(body, bytes) else body.length
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if length or method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if isinstance(body, bytes):
            sock.sendall(head + body)
        else:
            sock.sendall(head)
            body.send(sock)

    def _connected(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port))
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def _finish(self, response: http.client.HTTPResponse) -> None:
        response.close()
        if response.will_close:
            self.close()
