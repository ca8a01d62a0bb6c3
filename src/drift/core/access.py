"""Which access a request needs (computed here and nowhere else) and who may grant it.

Scopes follow the Docker token spec: ``repository:<name>:pull,push,delete`` and
``registry:catalog:*``. The auth issue plugs real controllers in behind ``AccessController``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from drift.core.http import Request
from drift.core.routing import RouteId, RouteMatch

__all__ = ["Access", "AccessController", "AllowAll", "Grant", "required_access"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Access:
    type: str  # "repository" or "registry"
    name: str
    actions: frozenset[str]

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


@dataclass(frozen=True, slots=True)
class Grant:
    subject: str | None  # user name, None for anonymous
    accesses: tuple[Access, ...]


class AccessController(Protocol):
    async def authorize(self, req: Request, needed: tuple[Access, ...]) -> Grant:
        """Return the grant, or raise a ``RegistryError`` (401 challenge or 403 DENIED)."""
        ...


class AllowAll:
    """``DRIFT_AUTH=none``: anonymous read-write for everyone (explicit opt-in only)."""

    async def authorize(self, req: Request, needed: tuple[Access, ...]) -> Grant:
        del req
        return Grant(subject=None, accesses=needed)


def _repo(name: str, *actions: str) -> Access:
    return Access("repository", name, frozenset(actions))


def required_access(match: RouteMatch, req: Request) -> tuple[Access, ...]:
    """The access a matched request needs: pull to read, pull+push to write, delete to delete."""
    route, name, method = match.route, match.params.get("name", ""), req.method
    if route in (RouteId.BASE, RouteId.HEALTH, RouteId.READY, RouteId.METRICS):
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
