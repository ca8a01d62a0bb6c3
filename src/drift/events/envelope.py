"""Webhook payloads: CNCF distribution's notification envelope, filters and the HMAC signature.

The envelope is ``{"events": [...]}`` with each event shaped as distribution's
``notifications.Event`` (id, timestamp, action, target, request, actor, source), so receivers
written for distribution work unchanged. A manifest pushed with several tags becomes one event
per tag, as distribution reports it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from drift.config.settings import WebhookEndpoint
from drift.events.model import Action, EventKind, RecordedEvent

__all__ = [
    "ENVELOPE_MEDIA_TYPE",
    "SIGNATURE_HEADER",
    "EventSource",
    "envelope_body",
    "matches",
    "sign",
]

ENVELOPE_MEDIA_TYPE: Final = "application/vnd.docker.distribution.events.v1+json"
SIGNATURE_HEADER: Final = "X-Drift-Signature"
_BLOB_MEDIA_TYPE: Final = "application/octet-stream"
_MANIFEST_KINDS: Final = frozenset(
    {EventKind.MANIFEST_PUSH, EventKind.MANIFEST_PULL, EventKind.MANIFEST_DELETE}
)


@dataclass(frozen=True, slots=True)
class EventSource:
    """The ``source`` of every event: this node's address and this process's instance id."""

    addr: str
    instance_id: str


def matches(endpoint: WebhookEndpoint, record: RecordedEvent) -> bool:
    """Whether ``endpoint`` subscribed to the event's action and repository."""
    action = record.event.kind.action
    repository = record.event.repository
    if action is None or repository is None or action.value not in endpoint.actions:
        return False
    return any(fnmatch.fnmatchcase(repository, pattern) for pattern in endpoint.repositories)


def _target(record: RecordedEvent, tag: str | None) -> dict[str, Any]:
    event, request = record.event, record.request
    manifest = event.kind in _MANIFEST_KINDS
    target: dict[str, Any] = {"repository": event.repository, "mediaType": event.media_type}
    if event.media_type is None and not manifest and event.kind.action is not Action.DELETE:
        target["mediaType"] = _BLOB_MEDIA_TYPE
    if event.size is not None:
        target["size"] = event.size
        target["length"] = event.size
    if event.digest is not None:
        target["digest"] = event.digest
        if request.host is not None and event.repository is not None:
            kind = "manifests" if manifest else "blobs"
            scheme = request.scheme or "http"
            target["url"] = f"{scheme}://{request.host}/v2/{event.repository}/{kind}/{event.digest}"
    if event.source is not None:
        target["fromRepository"] = event.source
    if tag is not None:
        target["tag"] = tag
    return {key: value for key, value in target.items() if value is not None}


def _events(record: RecordedEvent, source: EventSource) -> Iterable[dict[str, Any]]:
    action = record.event.kind.action
    assert action is not None  # filtered by ``matches``
    request = record.request
    tags: tuple[str | None, ...] = record.event.tags or (None,)
    for index, tag in enumerate(tags):
        yield {
            "id": record.id if index == 0 else f"{record.id}-{index}",
            "timestamp": record.timestamp,
            "action": action.value,
            "target": _target(record, tag),
            "request": {
                "id": request.id or "",
                "addr": request.addr or "",
                "host": request.host or "",
                "method": request.method or "",
                "useragent": request.useragent or "",
            },
            "actor": {"name": record.actor} if record.actor else {},
            "source": {"addr": source.addr, "instanceID": source.instance_id},
        }


def envelope_body(records: Iterable[RecordedEvent], source: EventSource) -> bytes:
    events = [event for record in records for event in _events(record, source)]
    return orjson.dumps({"events": events})


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes under the endpoint's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
