"""The handler table: every route and method of the registry API."""

from __future__ import annotations

from drift.api.blobs import BlobHandlers
from drift.api.listing import ListingHandlers
from drift.api.manifests import ManifestHandlers
from drift.api.metrics import MetricsHandler
from drift.api.probes import ProbeHandlers
from drift.api.token import TokenHandlers
from drift.api.uploads import UploadHandlers
from drift.core.dispatch import HandlerTable
from drift.core.http import Handler
from drift.core.routing import RouteId
from drift.registry.service import Registry

__all__ = ["build_handlers"]


def build_handlers(
    registry: Registry,
    probes: ProbeHandlers,
    metrics: MetricsHandler | None = None,
    tokens: TokenHandlers | None = None,
) -> HandlerTable:
    """The table; without ``metrics`` there is no ``/metrics`` route (404), without ``tokens`` no
    ``/auth/token`` (auth off, or tokens issued by an external service)."""
    blobs = BlobHandlers(registry)
    uploads = UploadHandlers(registry)
    manifests = ManifestHandlers(registry)
    listing = ListingHandlers(registry)
    table: dict[RouteId, dict[str, Handler]] = {
        RouteId.BASE: {"GET": probes.base, "HEAD": probes.base},
        RouteId.HEALTH: {"GET": probes.health, "HEAD": probes.health},
        RouteId.READY: {"GET": probes.ready, "HEAD": probes.ready},
        RouteId.CATALOG: {"GET": listing.catalog},
        RouteId.TAGS: {"GET": listing.tags},
        RouteId.REFERRERS: {"GET": listing.referrers},
        RouteId.MANIFEST: {
            "GET": manifests.get,
            "HEAD": manifests.get,
            "PUT": manifests.put,
            "DELETE": manifests.delete,
        },
        RouteId.BLOB: {"GET": blobs.get, "HEAD": blobs.get, "DELETE": blobs.delete},
        RouteId.UPLOAD_START: {"POST": uploads.start},
        RouteId.UPLOAD: {
            "GET": uploads.status,
            "PATCH": uploads.patch,
            "PUT": uploads.put,
            "DELETE": uploads.cancel,
        },
    }
    if metrics is not None:
        table[RouteId.METRICS] = {"GET": metrics.scrape, "HEAD": metrics.scrape}
    if tokens is not None:
        table[RouteId.TOKEN] = {"GET": tokens.get, "POST": tokens.post}
    return table
