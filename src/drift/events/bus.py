"""The ``EventSink`` of a serving process: stamps events and hands them to audit and webhooks.

An event gets its id, its time and the request it happened in (``drift.core.context``), then
goes to the webhook queues (never waiting) and to the audit log (awaited, so the line is written
before the client hears of the success). Recording never fails the operation that is reported.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import uuid
from typing import Final

from drift.config.settings import Settings
from drift.core.context import current_scope
from drift.events.audit import AuditLog, audit_path
from drift.events.envelope import EventSource
from drift.events.model import Action, EventKind, RecordedEvent, RegistryEvent, RequestInfo
from drift.events.webhooks import WebhookDispatcher

__all__ = ["EventBus", "build_event_bus", "current_request_info"]

_log = logging.getLogger(__name__)
_CLOSE_GRACE: Final = 2.0


def current_request_info() -> RequestInfo:
    """The request being served, as events report it (empty outside a request)."""
    scope = current_scope()
    if scope is None:
        return RequestInfo()
    request = scope.request
    return RequestInfo(
        id=scope.request_id,
        addr=request.remote,
        host=request.host,
        method=request.method,
        useragent=request.headers.get("User-Agent"),
        scheme=request.scheme,
        actor=scope.actor,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class EventBus:
    def __init__(self, audit: AuditLog | None, webhooks: WebhookDispatcher) -> None:
        self.audit = audit
        self.webhooks = webhooks

    def wants(self, kind: EventKind) -> bool:
        return (self.audit is not None and kind.audited) or self.webhooks.wants(kind)

    async def emit(self, event: RegistryEvent) -> None:
        kind = event.kind
        if not self.wants(kind):
            return
        try:
            info = current_request_info()
            if kind.action is Action.PULL and info.method == "HEAD":
                return  # a HEAD transfers no content: not a pull
            record = RecordedEvent(str(uuid.uuid4()), _now(), event, info)
            if self.webhooks.wants(kind):
                self.webhooks.publish(record)
            if self.audit is not None and kind.audited:
                await self.audit.append(record)
        except Exception:
            _log.exception("recording a %s event failed", kind.value)

    async def start(self) -> None:
        if self.audit is not None:
            self.audit.prepare()
        await self.webhooks.start()

    async def close(self, grace: float = _CLOSE_GRACE) -> None:
        await self.webhooks.close(grace)


def build_event_bus(settings: Settings) -> EventBus:
    audit = AuditLog(audit_path(settings.storage.fs_root)) if settings.audit.enabled else None
    source = EventSource(
        addr=f"{socket.gethostname()}:{settings.server.bind_port}",
        instance_id=str(uuid.uuid4()),
    )
    return EventBus(audit, WebhookDispatcher(settings.webhooks, source))
