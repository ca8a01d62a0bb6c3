"""Drift's Prometheus metrics, recorded cheaply on the request path and exported by ``/metrics``.

Requests reach plain in-process tallies in batches (``add_requests``, see ``drift.ops.records``),
storage operations one by one (a dict lookup and a few additions). ``flush`` folds the tallies
into prometheus-client's multiprocess values (memory-mapped files shared with the scrape) every
``drift.ops.instrument.FLUSH_INTERVAL`` and before this process answers a scrape, after its flush
hooks handed over the requests finished so far. A scrape served by any worker therefore sums
every worker, each at most that old.

Import this module only after ``drift.ops.multiproc.prepare`` set the directory.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from math import inf
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from drift.ops.records import RequestRecord

__all__ = ["HTTP_BUCKETS", "STORAGE_BUCKETS", "Metrics"]

HTTP_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0
)  # fmt: skip
STORAGE_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
)  # fmt: skip
_HTTP_BOUNDS: Final = (*HTTP_BUCKETS, inf)
_STORAGE_BOUNDS: Final = (*STORAGE_BUCKETS, inf)


class _HttpTally:
    """One (route, method, status)'s requests since the last flush (their count: the buckets')."""

    __slots__ = ("buckets", "bytes_in", "bytes_out", "seconds")

    def __init__(self) -> None:
        self.buckets = [0] * len(_HTTP_BOUNDS)
        self.seconds = 0.0
        self.bytes_in = 0
        self.bytes_out = 0


class _StorageTally:
    """One (driver, operation)'s calls and observations since the last flush; the driver keeps
    it. ``calls`` counts every call, the buckets and ``seconds`` the timed ones (all of them,
    except for a sampled operation under load: see ``drift.storage.instrumented``).

    A hot caller may count a call itself: ``calls += 1``, and for a timed success
    ``buckets[bisect_left(bounds, seconds)] += 1`` and ``seconds += seconds``.
    """

    __slots__ = ("buckets", "calls", "errors", "seconds")
    bounds: Final = _STORAGE_BOUNDS

    def __init__(self) -> None:
        self.buckets = [0] * len(_STORAGE_BOUNDS)
        self.seconds = 0.0
        self.errors = 0
        self.calls = 0

    def record(self, seconds: float, failed: bool) -> None:
        """Count one timed call."""
        self.calls += 1
        self.buckets[bisect_left(_STORAGE_BOUNDS, seconds)] += 1
        self.seconds += seconds
        if failed:
            self.errors += 1

    def take(self) -> tuple[int, list[int], float, int]:
        """The calls and observations so far, resetting the tally (event loop thread only)."""
        taken = (self.calls, self.buckets, self.seconds, self.errors)
        self.buckets, self.seconds, self.errors = [0] * len(_STORAGE_BOUNDS), 0.0, 0
        self.calls = 0
        return taken


def _add_observations(child: Histogram, buckets: list[int], seconds: float) -> None:
    """Fold tallied observations into a histogram child, exactly as ``observe`` would have.

    prometheus-client keeps one non-cumulative value per bucket (``_buckets``, the first bucket
    whose bound is >= the value) and the sum (``_sum``); ``observe`` increments just those.
    """
    for value, count in zip(child._buckets, buckets, strict=True):
        if count:
            value.inc(count)
    child._sum.inc(seconds)


class Metrics:
    content_type: Final = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # registry=None: the scrape reads every process's files through MultiProcessCollector.
        self.requests = Counter(
            "drift_http_requests",
            "HTTP requests answered, by route, method and status",
            ("route", "method", "status"),
            registry=None,
        )
        self.request_seconds = Histogram(
            "drift_http_request_duration_seconds",
            "Time from the request head to the end of the response body, by route and method",
            ("route", "method"),
            buckets=HTTP_BUCKETS,
            registry=None,
        )
        self.request_bytes = Counter(
            "drift_http_request_bytes",
            "Request body bytes received, by route and method",
            ("route", "method"),
            registry=None,
        )
        self.response_bytes = Counter(
            "drift_http_response_bytes",
            "Response body bytes sent, by route and method",
            ("route", "method"),
            registry=None,
        )
        self.uploads_in_progress = Gauge(
            "drift_uploads_in_progress",
            "Upload requests (POST, PATCH, PUT of blob data) being received right now",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.storage_operations = Counter(
            "drift_storage_operations",
            "Storage driver operations, every one (the duration histogram may sample some)",
            ("driver", "operation"),
            registry=None,
        )
        self.storage_seconds = Histogram(
            "drift_storage_operation_duration_seconds",
            "Storage driver operation latency (streams: until the first chunk). Every operation "
            "is timed except get_content under load: per process and publication (100 ms), its "
            "first 64 calls and then one in 16; drift_storage_operations_total counts them all",
            ("driver", "operation"),
            buckets=STORAGE_BUCKETS,
            registry=None,
        )
        self.storage_errors = Counter(
            "drift_storage_errors",
            "Storage driver operations that failed (a missing path is not a failure)",
            ("driver", "operation"),
            registry=None,
        )
        self.auth_failures = Counter(
            "drift_auth_failures",
            "Requests refused for missing or bad credentials",
            registry=None,
        )
        self._http: dict[tuple[str, str, int], _HttpTally] = {}
        self._storage: dict[tuple[str, str], _StorageTally] = {}
        self._flush_hooks: list[Callable[[], None]] = []

    def add_flush_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` at the start of every ``flush`` (to hand over pending records)."""
        self._flush_hooks.append(hook)

    def add_requests(self, records: Iterable[RequestRecord]) -> None:
        """Tally finished requests (published at the next ``flush``)."""
        http = self._http
        for method, _, route, _, _, status, bytes_in, bytes_out, _, _, _, started, ended in records:
            key = (route, method, status)
            tally = http.get(key)
            if tally is None:
                tally = http[key] = _HttpTally()
            seconds = ended - started
            tally.buckets[bisect_left(_HTTP_BOUNDS, seconds)] += 1
            tally.seconds += seconds
            tally.bytes_in += bytes_in
            tally.bytes_out += bytes_out

    def storage_tally(self, driver: str, operation: str) -> _StorageTally:
        """The tally an instrumented driver records one operation's observations into."""
        key = (driver, operation)
        tally = self._storage.get(key)
        if tally is None:
            tally = self._storage[key] = _StorageTally()
        return tally

    def flush(self) -> None:
        """Publish the tallies to the shared files (on the event loop's thread only)."""
        for hook in self._flush_hooks:
            hook()
        http, self._http = self._http, {}
        for (route, method, status), tally in http.items():
            self.requests.labels(route, method, str(status)).inc(sum(tally.buckets))
            _add_observations(
                self.request_seconds.labels(route, method), tally.buckets, tally.seconds
            )
            self.request_bytes.labels(route, method).inc(tally.bytes_in)
            self.response_bytes.labels(route, method).inc(tally.bytes_out)
        for (driver, operation), stally in self._storage.items():
            calls, buckets, seconds, errors = stally.take()
            if calls:  # an operation seen: its series exist (errors possibly 0)
                self.storage_operations.labels(driver, operation).inc(calls)
                child = self.storage_seconds.labels(driver, operation)
                _add_observations(child, buckets, seconds)
                self.storage_errors.labels(driver, operation).inc(errors)

    @staticmethod
    def exposition() -> bytes:
        """The text exposition summed over every process of this run (reads files: blocking)."""
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
