"""The instrumentation around the dispatcher: request ids, metrics and the access log.

Transports call ``begin`` when a request head arrived, ``dispatcher`` instead of the
dispatcher, ``stamp`` on its response, and ``finish`` once the response body left (with the
body bytes they moved). ``finish`` only keeps a ``RequestRecord``; the metrics and the access
log fold the records in batches (``drift.ops.records``). Nothing here is created when metrics
are off and the log level is above info: the transports then call the dispatcher directly and
pay nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter, time
from typing import TYPE_CHECKING, Final

from multidict import istr

from drift.core.dispatch import Dispatcher, HandlerTable, Outcome
from drift.core.http import Handler, Request, Response
from drift.core.routing import RouteId
from drift.ops.accesslog import AccessLog
from drift.ops.records import DRAIN_LIMIT, RequestRecord

if TYPE_CHECKING:
    from prometheus_client import Gauge

    from drift.ops.metrics import Metrics

__all__ = ["REQUEST_ID_HEADER", "Exchange", "Operations", "track_uploads"]

REQUEST_ID_HEADER: Final = "X-Request-Id"
FLUSH_INTERVAL: Final = 0.1
_ID_BATCH: Final = 256
_SANE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_REQUEST_ID_KEY: Final = istr(REQUEST_ID_HEADER)  # no case folding per lookup
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_AUTH_FAILURES: Final = frozenset({401, 429})
_AUTHORIZATION: Final = "Authorization"
_UPLOADS: Final = {RouteId.UPLOAD_START: ("POST",), RouteId.UPLOAD: ("PATCH", "PUT")}


@dataclass(slots=True)
class Exchange(Outcome):
    """The outcome of one request, with its start on the ``perf_counter`` clock. ``begin``
    builds it with positional arguments (keywords cost per request; a test pins the order)."""

    started: float = 0.0


class Operations:
    def __init__(
        self, dispatcher: Dispatcher, metrics: Metrics | None, access_log: AccessLog | None
    ) -> None:
        self.dispatcher: Final = dispatcher  # called by transports with the exchange
        self._metrics = metrics
        self._log = access_log
        self._id_prefix = secrets.token_hex(5) + "-"  # unique per process, then a counter
        self._next_id = 1
        self._fresh_ids: list[str] = []
        self._pending: list[RequestRecord] = []
        self._flusher: asyncio.Task[None] | None = None
        if metrics is not None:  # a scrape publishes the requests finished just before it
            metrics.add_flush_hook(self._drain)

    def begin(self, req: Request) -> Exchange:
        """Start the clock; adopt a sane incoming ``X-Request-Id`` or make a new one."""
        incoming = req.headers.get(_REQUEST_ID_KEY)
        if incoming is None or _SANE_REQUEST_ID.fullmatch(incoming) is None:
            incoming = (self._fresh_ids or self._more_ids()).pop()
        return Exchange(incoming, None, None, None, perf_counter())

    def _more_ids(self) -> list[str]:
        """The next ``_ID_BATCH`` request ids, the first at the end (formatted in one go)."""
        first = self._next_id
        self._next_id += _ID_BATCH
        prefix = self._id_prefix
        self._fresh_ids = [f"{prefix}{n:x}" for n in range(first + _ID_BATCH - 1, first - 1, -1)]
        return self._fresh_ids

    @staticmethod
    def stamp(response: Response, exchange: Exchange) -> None:
        response.headers[_REQUEST_ID_KEY] = exchange.request_id or ""

    def finish(
        self, req: Request, exchange: Exchange, status: int, bytes_in: int, bytes_out: int
    ) -> None:
        """Record the request for the metrics and the access log (folded at the next flush)."""
        ended = perf_counter()
        if status in _AUTH_FAILURES and self._metrics is not None and _AUTHORIZATION in req.headers:
            self._metrics.auth_failures.inc()  # credentials given and refused, or throttled
        route = exchange.route
        method = req.method
        pending = self._pending
        pending.append(
            (
                method if method in _METHODS else "OTHER",
                req.path,
                # ``_value_``: the plain attribute behind ``Enum.value`` (a slower descriptor)
                "unmatched" if route is None else route._value_,
                exchange.repository,
                exchange.subject,
                status,
                bytes_in,
                bytes_out,
                req.transport,
                req.remote,
                exchange.request_id or "",
                exchange.started,
                ended,
            )
        )
        if len(pending) >= DRAIN_LIMIT:
            self._drain()

    def _drain(self) -> None:
        records, self._pending = self._pending, []
        if records:
            if self._metrics is not None:
                self._metrics.add_requests(records)
            if self._log is not None:
                # Wall-clock time of a perf_counter reading, for the access lines' "ts" (exact
                # unless the system clock was stepped since the request ended).
                self._log.add_requests(records, time() - perf_counter())

    def flush(self) -> None:
        self._drain()
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
