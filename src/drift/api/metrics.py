"""``GET /metrics``: the Prometheus text exposition of every worker process of this run."""

from __future__ import annotations

from typing import Protocol

from drift.core.http import Request, Response
from drift.storage.executor import run_blocking

__all__ = ["MetricsHandler", "MetricsSource"]


class MetricsSource(Protocol):
    def flush(self) -> None:
        """Publish this process's pending tallies (event loop thread)."""
        ...

    def exposition(self) -> bytes:
        """The exposition summed over all processes (blocking file reads)."""
        ...


class MetricsHandler:
    def __init__(self, source: MetricsSource, content_type: str) -> None:
        self._source = source
        self._content_type = content_type

    async def scrape(self, req: Request) -> Response:
        del req
        self._source.flush()
        body = await run_blocking(self._source.exposition)
        return Response.data(200, body, self._content_type)
