"""Wiring of one serving process: storage, services, handlers, access control, dispatcher."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drift.api.metrics import MetricsHandler
from drift.api.probes import ProbeHandlers
from drift.api.routes import build_handlers
from drift.config.settings import Settings
from drift.core.dispatch import Dispatcher
from drift.events.bus import EventBus, build_event_bus
from drift.logsetup import python_level
from drift.ops.accesslog import AccessLog
from drift.ops.instrument import Operations, track_uploads
from drift.registry.service import Registry
from drift.server.security import Security, build_security
from drift.storage.factory import open_blob_cache, open_driver
from drift.storage.instrumented import InstrumentedDriver

if TYPE_CHECKING:
    from drift.ops.metrics import Metrics

__all__ = ["Application", "build_application", "tls_context"]


@dataclass(slots=True)
class Application:
    registry: Registry
    probes: ProbeHandlers
    dispatcher: Dispatcher
    ops: Operations | None  # None: no metrics and no access log, nothing to pay per request
    events: EventBus  # started and closed by the worker (webhook senders run on its loop)
    security: Security  # closed by the worker (OIDC HTTP session, database connections)


def _metrics(settings: Settings) -> Metrics | None:
    if not settings.metrics.enabled:
        return None
    # Imported here: prometheus-client must see the run's multiprocess directory first.
    from drift.ops.metrics import Metrics  # noqa: PLC0415

    return Metrics()


def build_application(settings: Settings, secret: bytes) -> Application:
    metrics = _metrics(settings)
    driver = open_driver(settings.storage, settings.s3)
    if metrics is not None:
        driver = InstrumentedDriver(driver, metrics)
    events = build_event_bus(settings)
    blob_cache = open_blob_cache(settings.storage, settings.s3)
    registry = Registry.create(driver, secret, settings.registry, events, blob_cache)
    security = build_security(settings, events)
    probes = ProbeHandlers(registry, (security.check_database,))
    scrape = None if metrics is None else MetricsHandler(metrics, metrics.content_type)
    handlers = build_handlers(registry, probes, scrape, security.tokens)
    if metrics is not None:
        handlers = track_uploads(handlers, metrics.uploads_in_progress)
    dispatcher = Dispatcher(handlers, security.access)
    level = python_level(settings.log.level)
    access_log = AccessLog(settings.log.format, level) if level <= logging.INFO else None
    ops = None
    if metrics is not None or access_log is not None:
        ops = Operations(dispatcher, metrics, access_log)
    return Application(registry, probes, dispatcher, ops, events, security)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS 1.2+ with the default (modern) cipher selection, or None for plain HTTP."""
    server = settings.server
    if server.tls_cert is None or server.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(server.tls_cert, server.tls_key)
    context.set_alpn_protocols(["http/1.1"])
    return context
