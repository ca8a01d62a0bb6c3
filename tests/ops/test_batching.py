"""The per-request instrumentation without sockets: request records folded in batches into the
access log and the metrics, request ids, and the sampled timing of link reads."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from drift.config.settings import LogFormat
from drift.core.access import AllowAll
from drift.core.dispatch import Dispatcher
from drift.core.http import Request
from drift.core.routing import RouteId
from drift.ops.accesslog import AccessLog
from drift.ops.instrument import Exchange, Operations
from drift.ops.metrics import Metrics
from drift.ops.records import DRAIN_LIMIT
from drift.storage.driver import PathNotFoundError, StorageError
from drift.storage.inmemory import InMemoryDriver
from drift.storage.instrumented import InstrumentedDriver

MANIFEST = "/v2/library/app/manifests/v1"


class _NoBody:
    async def read(self, max_bytes: int) -> bytes:
        del max_bytes
        return b""


def request(path: str = MANIFEST, method: str = "GET", **headers: str) -> Request:
    return Request(
        method=method,
        path=path,
        query=MultiDictProxy(MultiDict()),
        headers=CIMultiDictProxy(CIMultiDict(headers)),
        body=_NoBody(),
        scheme="http",
        host="registry.test",
        remote="127.0.0.1",
    )


def operations(log: AccessLog | None, metrics: Metrics | None = None) -> Operations:
    unused = Dispatcher({}, AllowAll())  # begin and finish never dispatch
    return Operations(unused, metrics, log)


def serve(
    ops: Operations,
    req: Request,
    route: RouteId | None,
    status: int = 200,
    sent: int = 500,
    user: str | None = None,
) -> Exchange:
    """What a transport and the dispatcher do around one request."""
    exchange = ops.begin(req)
    exchange.route = route
    exchange.repository = None if route is None or route is RouteId.HEALTH else "library/app"
    exchange.subject = user
    ops.finish(req, exchange, status, 0, sent)
    return exchange


def lines_of(path: Path) -> list[str]:
    return path.read_text(errors="surrogateescape").splitlines()


def test_exchange_is_built_in_the_field_order_of_outcome() -> None:
    # begin passes the fields positionally: this pins the order it relies on.
    names = [field.name for field in dataclasses.fields(Exchange)]
    assert names == ["request_id", "route", "repository", "subject", "started"]
    exchange = operations(None).begin(request())
    assert (exchange.route, exchange.repository, exchange.subject) == (None, None, None)
    assert exchange.request_id
    assert exchange.started > 0


def test_request_ids_are_unique_and_a_sane_incoming_one_is_kept() -> None:
    ops = operations(None)
    ids = [ops.begin(request()).request_id or "" for _ in range(3 * 256 + 5)]
    assert len(set(ids)) == len(ids)
    prefix = ids[0].rpartition("-")[0]
    assert [int(i.rpartition("-")[2], 16) for i in ids] == list(range(1, len(ids) + 1))
    assert all(i.startswith(prefix + "-") for i in ids)
    assert ops.begin(request(**{"X-Request-Id": "ci-42.a:b"})).request_id == "ci-42.a:b"
    assert ops.begin(request(**{"X-Request-Id": 'bad"id'})).request_id != 'bad"id'


def _reencoded(line: str) -> bytes:
    """The line as orjson renders its object, ``duration_ms`` with three decimals."""
    entry: dict[str, Any] = json.loads(line)
    entry["duration_ms"] = orjson.Fragment(f"{entry['duration_ms']:.3f}")
    return orjson.dumps(entry)


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_access_lines_are_exact_json_in_order(tmp_path: Path, level: int) -> None:
    out = tmp_path / "access.log"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    ops = operations(AccessLog(LogFormat.JSON, level, fd))
    odd_paths = [
        '/v2/library/app/manifests/a"b',  # JSON escapes
        "/v2/library/app/manifests/a\\b",
        "/v2/library/app/manifests/\u00e9t\u00e9",  # not ASCII
        "/v2/library/app/manifests/\udcff",  # an undecodable byte (surrogateescape)
        "/v2/library/app/manifests/tab\there",
        "/v2/library/app/manifests/" + "x" * 600,  # too long to cache its line's text
    ]
    served = []
    for n in range(DRAIN_LIMIT + 10):  # one drain on the way, then the flush
        served.append((MANIFEST, serve(ops, request(), RouteId.MANIFEST, sent=n)))
        if n % 50 == 0:
            path = odd_paths[(n // 50) % len(odd_paths)]
            served.append(
                (path, serve(ops, request(path), RouteId.MANIFEST, 404, 0, "oidc:\u00fc"))
            )
    probe = serve(ops, request("/healthz"), RouteId.HEALTH)
    outside = serve(ops, request("/nowhere", "BREW"), None, 404)
    ops.flush()
    os.close(fd)
    lines = lines_of(out)
    if level == logging.DEBUG:
        served.append(("/healthz", probe))
    served.append(("/nowhere", outside))
    assert len(lines) == len(served)
    previous = ""
    for line, (path, exchange) in zip(lines, served, strict=True):
        entry = json.loads(line)
        assert entry["path"] == path
        assert entry["request_id"] == exchange.request_id
        assert entry["ts"] >= previous
        previous = entry["ts"]
        assert entry["ts"].endswith("Z")
        assert len(entry["ts"]) == len("2026-01-01T00:00:00.000Z")
        assert entry["msg"] == f"{entry['method']} {path} {entry['status']}"
        assert 0 <= entry["duration_ms"] < 60_000
        assert entry["logger"] == "drift.access"
        assert entry["transport"] == "h1"
        assert entry["remote"] == "127.0.0.1"
        if "\udcff" not in path:
            assert line.encode() == _reencoded(line)
    entries = [json.loads(line) for line in lines]
    assert entries[0]["route"] == "manifest"
    assert entries[0]["bytes_out"] == 0
    assert entries[0]["level"] == "info"
    assert entries[0]["repository"] == "library/app"
    assert entries[0]["user"] is None
    odd = [e for e in entries if e["status"] == 404 and e["route"] == "manifest"]
    assert {e["path"] for e in odd} == set(odd_paths)
    assert all(e["user"] == "oidc:\u00fc" for e in odd)
    assert entries[-1]["method"] == "OTHER"
    assert entries[-1]["route"] == "unmatched"
    assert entries[-1]["repository"] is None
    if level == logging.DEBUG:
        assert entries[-2]["level"] == "debug"
        assert entries[-2]["route"] == "healthz"


def test_text_lines(tmp_path: Path) -> None:
    out = tmp_path / "access.log"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    ops = operations(AccessLog(LogFormat.TEXT, logging.INFO, fd))
    exchange = serve(ops, request(), RouteId.MANIFEST, sent=42)
    ops.flush()
    os.close(fd)
    (line,) = lines_of(out)
    assert f"INFO    drift.access: GET {MANIFEST} 200 request_id='{exchange.request_id}'" in line
    assert "route='manifest' repository='library/app' user=None status=200 bytes_in=0" in line
    assert "bytes_out=42 duration_ms=" in line


def _value(metric: Any, *labels: str) -> float:
    return float(metric.labels(*labels)._value.get())


def test_metrics_count_every_request_of_every_batch() -> None:
    metrics = Metrics()
    ops = operations(None, metrics)
    for n in range(2 * DRAIN_LIMIT + 3):
        serve(ops, request(), RouteId.MANIFEST, 200 if n % 3 else 404, sent=10)
    serve(ops, request(MANIFEST, "HEAD"), RouteId.MANIFEST, sent=0)
    metrics.flush()  # as a scrape does: the pending records first
    total = 2 * DRAIN_LIMIT + 3
    not_found = len(range(0, total, 3))
    assert _value(metrics.requests, "manifest", "GET", "200") == total - not_found
    assert _value(metrics.requests, "manifest", "GET", "404") == not_found
    assert _value(metrics.requests, "manifest", "HEAD", "200") == 1
    assert _value(metrics.response_bytes, "manifest", "GET") == 10 * total
    assert _value(metrics.request_bytes, "manifest", "GET") == 0
    histogram = metrics.request_seconds.labels("manifest", "GET")
    assert sum(bucket.get() for bucket in histogram._buckets) == total
    assert 0 <= histogram._sum.get() < total


class _FlakyDriver(InMemoryDriver):
    async def get_content(self, path: str) -> bytes:
        if path.endswith("broken"):
            raise StorageError("disk on fire")
        return await super().get_content(path)


async def test_link_reads_are_all_counted_and_timed_by_sample() -> None:
    metrics = Metrics()
    inner = _FlakyDriver()
    await inner.put_content("/repo/link", b"sha256:0")
    driver = InstrumentedDriver(inner, metrics)

    async def read(path: str) -> None:
        with contextlib.suppress(StorageError):
            await driver.get_content(path)

    paths = ["/repo/link", "/repo/missing", "/repo/broken"]
    calls = 300
    for n in range(calls):
        await read(paths[n % 3])
    timed = 64 + sum(1 for n in range(65, calls + 1) if n % 16 == 0)
    broken = calls // 3
    metrics.flush()
    assert _value(metrics.storage_operations, "inmemory", "get_content") == calls
    assert _value(metrics.storage_errors, "inmemory", "get_content") == broken
    histogram = metrics.storage_seconds.labels("inmemory", "get_content")
    assert sum(bucket.get() for bucket in histogram._buckets) == timed
    for _ in range(10):  # a new publication interval: timed from its start again
        await read("/repo/link")
    metrics.flush()
    assert sum(bucket.get() for bucket in histogram._buckets) == timed + 10
    with pytest.raises(PathNotFoundError):
        await driver.get_content("/repo/missing")
