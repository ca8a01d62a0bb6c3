"""Transport-neutral HTTP request and response values used by every handler.

Handlers are ``async def handler(req: Request) -> Response`` and never see aiohttp or aioquic.
A response body is bytes, a file region (so transports can use sendfile) or an async stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping

from drift.core.grants import Grant

__all__ = [
    "Body",
    "BodyIncompleteError",
    "FileBody",
    "Handler",
    "Request",
    "RequestBody",
    "Response",
    "StreamBody",
]


class BodyIncompleteError(Exception):
    """The client went away (or sent less than Content-Length) before the body ended."""


class RequestBody(Protocol):
    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` (at least one byte) or ``b""`` at the end of the body.

        Raises ``BodyIncompleteError`` when the body was cut short.
        """
        ...


@dataclass(frozen=True, slots=True)
class FileBody:
    """A region of a local file: transports send it with sendfile where they can."""

    path: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class StreamBody:
    chunks: AsyncIterator[bytes]
    length: int


Body = bytes | FileBody | StreamBody


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-encoded path, without the query
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: RequestBody
    scheme: str  # as the client sees it (X-Forwarded-Proto honoured by the transport)
    host: str  # as the client sees it (Host or X-Forwarded-Host)
    remote: str | None = None
    transport: str = "h1"
    params: Mapping[str, str] = field(default_factory=dict)
    grant: Grant | None = None  # set by the dispatcher before the handler runs

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        if value is None or not value.isdigit():
            return None
        return int(value)

    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass(slots=True)
class Response:
    status: int
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: Body = b""

    @classmethod
    def empty(cls, status: int, headers: Mapping[str, str] | None = None) -> Response:
        out = cls(status, CIMultiDict(headers or {}))
        out.headers["Content-Length"] = "0"
        return out

    @classmethod
    def data(
        cls, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        out = cls(status, CIMultiDict(headers or {}), body)
        out.headers["Content-Type"] = content_type
        out.headers["Content-Length"] = str(len(body))
        return out


Handler = Callable[[Request], Awaitable[Response]]
