"""Absolute URLs for ``Location`` and ``Link`` headers, as the client sees the registry."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

from drift.core.http import Request

__all__ = ["absolute", "next_link"]


def absolute(req: Request, path: str, query: Mapping[str, str] | None = None) -> str:
    url = req.base_url() + quote(path, safe="/:@")
    if query:
        url += "?" + urlencode(query)
    return url


def next_link(req: Request, query: Mapping[str, str]) -> str:
    """An RFC 8288 ``Link`` header value to the next page of the current endpoint."""
    return f'<{req.path}?{urlencode(query)}>; rel="next"'
