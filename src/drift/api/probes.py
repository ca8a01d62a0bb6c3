"""``/v2/`` (API version check) and the operational probes ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from drift.core.dispatch import json_response
from drift.core.http import Request, Response
from drift.registry.service import Registry
from drift.storage import layout
from drift.storage.driver import PathNotFoundError, StorageError

__all__ = ["ProbeHandlers", "ReadinessCheck"]


ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises (with a message naming what is unreachable) when a dependency cannot serve."""


class ProbeHandlers:
    def __init__(self, registry: Registry, checks: Sequence[ReadinessCheck] = ()) -> None:
        self._registry = registry
        self._checks = tuple(checks)
        self.draining = False

    async def base(self, req: Request) -> Response:
        del req
        return json_response(200, {})

    async def health(self, req: Request) -> Response:
        del req
        return Response.data(200, b"ok\n", "text/plain")

    async def ready(self, req: Request) -> Response:
        del req
        if self.draining:
            return Response.data(503, b"draining\n", "text/plain")
        try:
            await self._registry.driver.stat(layout.ROOT)
        except PathNotFoundError:
            pass  # an empty registry: storage answered
        except (StorageError, OSError) as exc:
            return Response.data(503, f"storage unavailable: {exc}\n".encode(), "text/plain")
        for check in self._checks:
            try:
                await check()
            except Exception as exc:
                return Response.data(503, f"{exc}\n".encode(), "text/plain")
        return Response.data(200, b"ready\n", "text/plain")
