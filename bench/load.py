"""Closed-loop request-rate runs (wrk for GET, bench.headload for HEAD): shape and result.

wrk 4.1 cannot measure HEAD: its response parser waits for the `Content-Length` bytes of a
body that never comes (wg/wrk#198), so HEAD goes to a small load generator of our own with the
same shape (32 connections over 2 processes, one request in flight per connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["CONNECTIONS", "THREADS", "LoadError", "LoadResult", "percentile"]

CONNECTIONS: Final = 32
THREADS: Final = 2


class LoadError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class LoadResult:
    tool: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
