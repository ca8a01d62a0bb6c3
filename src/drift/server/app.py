"""Wiring of one serving process: storage, services, handlers, access control, dispatcher."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from drift.api.probes import ProbeHandlers
from drift.api.routes import build_handlers
from drift.config.settings import Settings
from drift.core.access import AllowAll
from drift.core.dispatch import Dispatcher
from drift.registry.service import Registry
from drift.storage.factory import open_driver

__all__ = ["Application", "build_application", "tls_context"]


@dataclass(slots=True)
class Application:
    registry: Registry
    probes: ProbeHandlers
    dispatcher: Dispatcher


def build_application(settings: Settings, secret: bytes) -> Application:
    registry = Registry.create(open_driver(settings.storage), secret, settings.registry)
    probes = ProbeHandlers(registry)
    dispatcher = Dispatcher(build_handlers(registry, probes), AllowAll())
    return Application(registry, probes, dispatcher)


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
