"""The registry's URL space (distribution-spec v1.1 "Endpoints") and how requests map onto it.

Repository names contain slashes, so each pattern anchors on the fixed suffix after the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = ["RouteId", "RouteMatch", "match_route"]


class RouteId(Enum):
    BASE = "base"
    CATALOG = "catalog"
    TAGS = "tags"
    MANIFEST = "manifest"
    UPLOAD_START = "upload_start"
    UPLOAD = "upload"
    BLOB = "blob"
    REFERRERS = "referrers"
    HEALTH = "healthz"
    READY = "readyz"
    METRICS = "metrics"
    TOKEN = "token"  # noqa: S105 - a route name


_NAME: Final = r"(?P<name>.+?)"
_PATTERNS: Final = (
    (RouteId.BASE, re.compile(r"^/v2/?$")),
    (RouteId.CATALOG, re.compile(r"^/v2/_catalog$")),
    (RouteId.TAGS, re.compile(rf"^/v2/{_NAME}/tags/list$")),
    (RouteId.MANIFEST, re.compile(rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$")),
    (RouteId.UPLOAD_START, re.compile(rf"^/v2/{_NAME}/blobs/uploads/?$")),
    (RouteId.UPLOAD, re.compile(rf"^/v2/{_NAME}/blobs/uploads/(?P<uuid>[^/]+)$")),
    (RouteId.BLOB, re.compile(rf"^/v2/{_NAME}/blobs/(?P<digest>[^/]+)$")),
    (RouteId.REFERRERS, re.compile(rf"^/v2/{_NAME}/referrers/(?P<digest>[^/]+)$")),
    (RouteId.HEALTH, re.compile(r"^/healthz$")),
    (RouteId.READY, re.compile(r"^/readyz$")),
    (RouteId.METRICS, re.compile(r"^/metrics$")),
    (RouteId.TOKEN, re.compile(r"^/auth/token$")),
)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: RouteId
    params: dict[str, str]


def match_route(path: str) -> RouteMatch | None:
    for route, pattern in _PATTERNS:
        match = pattern.match(path)
        if match is not None:
            return RouteMatch(route, match.groupdict())
    return None
