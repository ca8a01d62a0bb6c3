"""HTTP/3 field sections to and from the core ``Request`` and ``Response`` headers.

RFC 9114 section 4.3.1: a request carries ``:method``, ``:scheme``, ``:authority`` and ``:path``
pseudo-headers (aioquic has already validated their presence and order, and that field names are
lower case). The ``:authority`` becomes ``Host`` so handlers see the same headers as over
HTTP/1.1. Section 4.2: responses carry no connection-specific fields and only lower-case names.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from drift.core.http import Request, RequestBody

__all__ = ["request_from_fields", "response_fields"]

Fields = list[tuple[bytes, bytes]]

_CONNECTION_SPECIFIC: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)
_STATUS_CODES: Final = {status: str(status).encode() for status in range(100, 600)}


def request_from_fields(fields: Fields, body: RequestBody, remote: str | None) -> Request | None:
    """The core request, or None when a required pseudo-header is missing or malformed."""
    method = path = authority = None
    headers: CIMultiDict[str] = CIMultiDict()
    for raw_name, raw_value in fields:
        value = raw_value.decode("latin-1")
        if raw_name.startswith(b":"):
            if raw_name == b":method":
                method = value
            elif raw_name == b":path":
                path = value
            elif raw_name == b":authority":
                authority = value
            continue
        headers.add(raw_name.decode("latin-1"), value)
    if not method or not path or not path.startswith("/"):
        return None
    host = authority or headers.get("Host") or ""
    if "Host" not in headers and host:
        headers["Host"] = host
    target, _, query = path.partition("?")
    return Request(
        method=method,
        path=target,
        query=MultiDictProxy(MultiDict(parse_qsl(query, keep_blank_values=True))),
        headers=CIMultiDictProxy(headers),
        body=body,
        scheme="https",
        host=host,
        remote=remote,
        transport="h3",
    )


def response_fields(status: int, headers: CIMultiDict[str]) -> Fields:
    fields: Fields = [(b":status", _STATUS_CODES.get(status) or str(status).encode())]
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in _CONNECTION_SPECIFIC:
            fields.append((lowered.encode("latin-1"), value.encode("latin-1")))
    return fields
