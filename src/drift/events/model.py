"""What happened in the registry: the event kinds, their values, and the sink services report to.

Services build a ``RegistryEvent`` after an operation succeeded and hand it to their
``EventSink``; the sink adds who, when and from where (``RecordedEvent``) and fans it out to the
audit log and the webhooks. Nothing secret ever goes into an event: no credentials, no tokens, no
upload state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, Protocol

__all__ = [
    "NULL_SINK",
    "Action",
    "EventKind",
    "EventSink",
    "NullSink",
    "RecordedEvent",
    "RegistryEvent",
    "RequestInfo",
    "Result",
]


class Action(Enum):
    """The ``action`` of CNCF distribution's notification events."""

    PUSH = "push"
    PULL = "pull"
    DELETE = "delete"
    MOUNT = "mount"


class Result(Enum):
    SUCCESS = "success"
    FAILURE = "failure"


class EventKind(Enum):
    """Every kind of event Drift records; ``action`` is its webhook action, if it has one."""

    MANIFEST_PUSH = "manifest.push"
    MANIFEST_PULL = "manifest.pull"
    MANIFEST_DELETE = "manifest.delete"
    TAG_SET = "tag.set"  # a tag created or moved to another manifest
    TAG_DELETE = "tag.delete"
    BLOB_PUSH = "blob.push"
    BLOB_MOUNT = "blob.mount"
    BLOB_PULL = "blob.pull"
    BLOB_DELETE = "blob.delete"
    # Emitted by authentication and administration (audit only).
    LOGIN_SUCCESS = "login.success"
    LOGIN_FAILURE = "login.failure"
    TOKEN_CREATE = "token.create"  # noqa: S105 - an event name, not a secret
    TOKEN_REVOKE = "token.revoke"  # noqa: S105
    PERMISSION_CHANGE = "permission.change"

    @property
    def action(self) -> Action | None:
        return _ACTIONS.get(self)

    @property
    def audited(self) -> bool:
        """Pulls are too frequent for the audit trail; everything else is recorded."""
        return self not in (EventKind.MANIFEST_PULL, EventKind.BLOB_PULL)


_ACTIONS: Final = {
    EventKind.MANIFEST_PUSH: Action.PUSH,
    EventKind.BLOB_PUSH: Action.PUSH,
    EventKind.BLOB_MOUNT: Action.MOUNT,
    EventKind.MANIFEST_PULL: Action.PULL,
    EventKind.BLOB_PULL: Action.PULL,
    EventKind.MANIFEST_DELETE: Action.DELETE,
    EventKind.TAG_DELETE: Action.DELETE,
    EventKind.BLOB_DELETE: Action.DELETE,
}


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    kind: EventKind
    repository: str | None = None
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    # manifest.push: every tag the push set; tag.*: the tag; manifest.delete: the tags removed.
    tags: tuple[str, ...] = ()
    previous: str | None = None  # tag.set: the digest the tag named before, if any
    source: str | None = None  # blob.mount: the repository the blob was mounted from
    result: Result = Result.SUCCESS
    actor: str | None = None  # overrides the request's subject (login attempts name the user)
    detail: str | None = None  # a reason for a failure or what a permission change changed


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Who asked, from where; every field is what the client sent or the transport saw."""

    id: str | None = None
    addr: str | None = None
    host: str | None = None
    method: str | None = None
    useragent: str | None = None
    scheme: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    id: str
    timestamp: str  # RFC 3339, UTC
    event: RegistryEvent
    request: RequestInfo

    @property
    def actor(self) -> str | None:
        return self.event.actor if self.event.actor is not None else self.request.actor


class EventSink(Protocol):
    def wants(self, kind: EventKind) -> bool:
        """Whether ``emit`` does anything with ``kind``: lets callers skip costly preparation."""
        ...

    async def emit(self, event: RegistryEvent) -> None:
        """Record ``event``; never raises and never waits for a webhook receiver."""
        ...


class NullSink:
    """Records nothing (events disabled, and the default of services built on their own)."""

    def wants(self, kind: EventKind) -> bool:
        del kind
        return False

    async def emit(self, event: RegistryEvent) -> None:
        del event


NULL_SINK: Final = NullSink()
