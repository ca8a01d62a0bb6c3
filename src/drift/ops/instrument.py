"""The instrumentation around the dispatcher: request ids, metrics and the access log.

Transports call ``begin`` when a request head arrived, ``dispatch`` instead of the dispatcher,
and ``finish`` once the response body left (with the body bytes they moved). Nothing here is
created when metrics are off and the log level is above info: the transports then call the
dispatcher directly and pay nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Final

from drift.core.dispatch import Dispatcher, HandlerTable, Outcome
from drift.core.http import Handler, Request, Response
from drift.core.routing import RouteId
from drift.ops.accesslog import AccessLog

if TYPE_CHECKING:
    from prometheus_client import Gauge

    from drift.ops.metrics import Metrics

__all__ = ["REQUEST_ID_HEADER", "Exchange", "Operations", "track_uploads"]

REQUEST_ID_HEADER: Final = "X-Request-Id"
FLUSH_INTERVAL: Final = 0.1
_SANE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_QUIET_ROUTES: Final = frozenset({RouteId.HEALTH, RouteId.READY, RouteId.METRICS})
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UPLOADS: Final = {RouteId.UPLOAD_START: ("POST",), RouteId.UPLOAD: ("PATCH", "PUT")}


@dataclass(slots=True)
class Exchange(Outcome):
    started: float = 0.0


class Operations:
    def __init__(
        self, dispatcher: Dispatcher, metrics: Metrics | None, access_log: AccessLog | None
    ) -> None:
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._log = access_log
        self._id_prefix = secrets.token_hex(5) + "-"  # unique per process, then a counter
        self._ids = itertools.count(1)
        self._flusher: asyncio.Task[None] | None = None

    def begin(self, req: Request) -> Exchange:
        """Start the clock; adopt a sane incoming ``X-Request-Id`` or make a new one."""
        incoming = req.headers.get(REQUEST_ID_HEADER)
        if incoming is None or _SANE_REQUEST_ID.fullmatch(incoming) is None:
            incoming = f"{self._id_prefix}{next(self._ids):x}"
        return Exchange(request_id=incoming, started=perf_counter())

    @property
    def dispatcher(self) -> Dispatcher:
        """Called by transports with the exchange; then ``stamp`` the response."""
        return self._dispatcher

    @staticmethod
    def stamp(response: Response, exchange: Exchange) -> None:
        response.headers[REQUEST_ID_HEADER] = exchange.request_id or ""

    def finish(
        self, req: Request, exchange: Exchange, status: int, bytes_in: int, bytes_out: int
    ) -> None:
        seconds = perf_counter() - exchange.started
        route = exchange.route
        route_name = "unmatched" if route is None else route.value
        method = req.method if req.method in _METHODS else "OTHER"
        if self._metrics is not None:
            self._metrics.request(
                route_name, method, status, seconds, bytes_in=bytes_in, bytes_out=bytes_out
            )
        if self._log is not None:
            self._log.request(
                debug=route in _QUIET_ROUTES,
                request_id=exchange.request_id or "",
                method=method,
                path=req.path,
                route=route_name,
                repository=exchange.repository,
                user=exchange.subject,
                status=status,
                bytes_in=bytes_in,
                bytes_out=bytes_out,
                seconds=seconds,
                transport=req.transport,
                remote=req.remote,
            )

    def flush(self) -> None:
        if self._metrics is not None:
            self._metrics.flush()
        if self._log is not None:
            self._log.flush()

    def start(self) -> None:
        """Flush every ``FLUSH_INTERVAL`` on the running loop until ``close``."""
        self._flusher = asyncio.get_running_loop().create_task(self._flush_periodically())

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self.flush()

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self.flush()


def _tracked(handler: Handler, gauge: Gauge) -> Handler:
    async def tracked(req: Request) -> Response:
        gauge.inc()
        try:
            return await handler(req)
        finally:
            gauge.dec()

    return tracked


def track_uploads(table: HandlerTable, gauge: Gauge) -> HandlerTable:
    """The table with the upload handlers counted in ``gauge`` while they run."""
    out: dict[RouteId, Mapping[str, Handler]] = dict(table)
    for route, methods in _UPLOADS.items():
        handlers = dict(table[route])
        for method in methods:
            handlers[method] = _tracked(handlers[method], gauge)
        out[route] = handlers
    return out
