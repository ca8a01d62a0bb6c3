"""Recording an event from a process that serves no request: ``driftctl``, server start-up.

The event goes through the registry's own ``EventBus`` (so it gets its id and time and its audit
line has the shape of one the server writes) with no request info; the actor is what the event
names. Only the audit trail is written: webhooks are delivered by serving processes only (and no
event kind recorded offline has a webhook action anyway).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from drift.config.settings import Settings, WebhookSettings
from drift.events.bus import build_event_bus
from drift.events.model import RegistryEvent

__all__ = ["emit_offline"]

_log = logging.getLogger(__name__)


def emit_offline(settings: Settings, event: RegistryEvent) -> bool:
    """Append ``event`` to the audit trail, when enabled; call it with no event loop running.

    Returns False when the line could not be written (the cause is logged); True when it was,
    or when the audit trail is disabled.
    """
    bus = build_event_bus(dataclasses.replace(settings, webhooks=WebhookSettings()))
    audit = bus.audit
    if audit is None or not bus.wants(event.kind):
        return True
    try:
        audit.prepare()
    except OSError as exc:
        audit.failures += 1
        _log.error("cannot create the directory of the audit log %s: %s", audit.path, exc)
        return False
    asyncio.run(bus.emit(event))
    return audit.failures == 0
