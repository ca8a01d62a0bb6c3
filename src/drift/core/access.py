"""Which access a request needs (computed here and nowhere else) and who may grant it.

Scopes follow the Docker token spec: ``repository:<name>:pull,push,delete`` and
``registry:catalog:*``. ``drift.auth`` implements ``AccessController`` for the auth modes.
"""

from __future__ import annotations

import logging
from typing import Final, Protocol

from drift.core.grants import Access, Grant
from drift.core.http import Request
from drift.core.routing import RouteId, RouteMatch

__all__ = [
    "PUBLIC",
    "Access",
    "AccessController",
    "AllowAll",
    "Grant",
    "Needed",
    "required_access",
]

_log = logging.getLogger(__name__)


Needed = tuple[Access, ...]
"""What a route needs; ``()`` means "any authenticated caller" (the ``/v2/`` version check)."""

PUBLIC: Final = Grant(subject=None, accesses=())


class AccessController(Protocol):
    async def authorize(self, req: Request, needed: Needed) -> Grant:
        """Return the grant, or raise a ``RegistryError`` (401 challenge or 403 DENIED)."""
        ...


class AllowAll:
    """``DRIFT_AUTH=none``: anonymous read-write for everyone (explicit opt-in only)."""

    async def authorize(self, req: Request, needed: Needed) -> Grant:
        del req
        return Grant(subject=None, accesses=needed)


def _repo(name: str, *actions: str) -> Access:
    return Access("repository", name, frozenset(actions))


_PUBLIC_ROUTES: Final = frozenset({RouteId.HEALTH, RouteId.READY, RouteId.METRICS, RouteId.TOKEN})


def required_access(match: RouteMatch, req: Request) -> Needed | None:
    """The access a matched request needs: pull to read, pull+push to write, delete to delete;
    None for the routes open to everyone (probes, metrics, and the token endpoint, which
    authenticates its callers itself)."""
    route, name, method = match.route, match.params.get("name", ""), req.method
    if route in _PUBLIC_ROUTES:
        return None
    if route is RouteId.BASE:
        return ()
    if route is RouteId.CATALOG:
        return (Access("registry", "catalog", frozenset({"*"})),)
    if method == "DELETE" and route in (RouteId.MANIFEST, RouteId.BLOB):
        return (_repo(name, "delete"),)
    if method in ("GET", "HEAD") and route is not RouteId.UPLOAD:
        return (_repo(name, "pull"),)
    needed = [_repo(name, "pull", "push")]
    source = req.query.get("from")
    if route is RouteId.UPLOAD_START and req.query.get("mount") and source and source != name:
        needed.append(_repo(source, "pull"))
    return tuple(needed)
