"""The request being served, for code below the handlers that records who did what.

The dispatcher binds the scope around each handler call; services read it (through
``current_scope``) only to annotate what they report, never to decide anything. Each request runs
in its own task, so the context variable never leaks from one request into another.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from drift.core.http import Request

__all__ = ["RequestScope", "current_scope", "enter_scope", "leave_scope"]


@dataclass(frozen=True, slots=True)
class RequestScope:
    request: Request
    actor: str | None  # the granted subject; None for anonymous access
    request_id: str | None = None


_current: ContextVar[RequestScope | None] = ContextVar("drift_request_scope", default=None)


def current_scope() -> RequestScope | None:
    return _current.get()


def enter_scope(scope: RequestScope) -> Token[RequestScope | None]:
    """Bind ``scope`` for the current task; pass the token to ``leave_scope`` in a finally."""
    return _current.set(scope)


def leave_scope(token: Token[RequestScope | None]) -> None:
    _current.reset(token)
