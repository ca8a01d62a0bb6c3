"""``GET /metrics``: after a real push and pull through the API, every count and byte total is
exactly what the client sent and received, whichever of the two workers answers the scrape."""

from __future__ import annotations

import base64
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.oci import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
    random_bytes,
)
from tests.support.rawhttp import HttpClient, with_query
from tests.support.servers import RunningRegistry, start_drift

Key = tuple[str, str, int]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
QUIET = {"DRIFT_DRAIN_SECONDS": "0"}


@pytest.fixture
def drift(tmp_path: Path) -> Iterator[RunningRegistry]:
    with start_drift(tmp_path / "data", workers=2, env={**QUIET, "DRIFT_LOG": "info"}) as server:
        yield server


def scrape(url: str) -> Samples:
    with HttpClient(url) as http:  # a new connection: either worker may answer
        reply = http.get("/metrics")
    assert reply.status == 200, str(reply)
    assert (reply.header("Content-Type") or "").startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_counted(samples: Samples, keys: Iterable[tuple[str, str, int]]) -> dict[Key, float]:
    return {
        (route, method, status): value(
            samples, "drift_http_requests_total", route=route, method=method, status=str(status)
        )
        for route, method, status in keys
    }


def request(url: str, method: str, target: str, **options: object) -> tuple[int, bytes]:
    with HttpClient(url) as http:  # one connection per request spreads them over the workers
        reply = http.request(method, target, **options)  # type: ignore[arg-type]
    return reply.status, reply.body


def test_push_and_pull_are_counted_exactly(drift: RunningRegistry) -> None:
    url, repo = drift.url, "metrics/app"
    config = b'{"architecture":"amd64","os":"linux"}'
    layers = [random_bytes(300_000, "big"), random_bytes(1000, "small")]  # sendfile and write
    blobs = [config, *layers]
    sent: Counter[Key] = Counter()
    bytes_in: Counter[tuple[str, str]] = Counter()
    bytes_out: Counter[tuple[str, str]] = Counter()

    def call(route: str, method: str, target: str, body: bytes = b"", **headers: str) -> bytes:
        status, reply = request(url, method, target, body=body or None, headers=headers)
        sent[(route, method, status)] += 1
        bytes_in[(route, method)] += len(body)
        bytes_out[(route, method)] += len(reply)
        return reply

    for blob in blobs:
        with HttpClient(url) as http:
            location = http.post(f"/v2/{repo}/blobs/uploads/").header("Location")
        sent[("upload_start", "POST", 202)] += 1
        assert location
        target = with_query(HttpClient(url).target(location), digest=digest_of(blob))
        call("upload", "PUT", target, blob, **{"Content-Type": "application/octet-stream"})
    manifest = image_manifest(
        descriptor(OCI_CONFIG, config), [descriptor(OCI_LAYER, data) for data in layers]
    )
    call("manifest", "PUT", f"/v2/{repo}/manifests/v1", manifest, **{"Content-Type": OCI_MANIFEST})
    assert call("manifest", "GET", f"/v2/{repo}/manifests/v1", Accept=OCI_MANIFEST) == manifest
    call("manifest", "GET", f"/v2/{repo}/manifests/missing", Accept=OCI_MANIFEST)
    for blob in blobs:
        assert call("blob", "GET", f"/v2/{repo}/blobs/{digest_of(blob)}") == blob
    call("blob", "HEAD", f"/v2/{repo}/blobs/{digest_of(layers[0])}")
    assert sent[("manifest", "GET", 404)] == 1
    assert sent[("upload", "PUT", 201)] == 3

    expected = {key: float(n) for key, n in sent.items()}
    deadline = time.monotonic() + 5.0
    while True:  # each worker publishes its tallies every 100 ms
        samples = scrape(url)
        if requests_counted(samples, sent) == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert requests_counted(samples, sent) == expected
    for (route, method), total in bytes_in.items():
        labels = {"route": route, "method": method}
        assert value(samples, "drift_http_request_bytes_total", **labels) == total, labels
        assert (
            value(samples, "drift_http_response_bytes_total", **labels)
            == bytes_out[(route, method)]
        ), labels
        count = sum(n for key, n in sent.items() if key[:2] == (route, method))
        assert value(samples, "drift_http_request_duration_seconds_count", **labels) == count
        inf = value(samples, "drift_http_request_duration_seconds_bucket", **labels, le="+Inf")
        assert inf == count
    assert value(samples, "drift_http_request_bytes_total", route="upload", method="PUT") == sum(
        len(blob) for blob in blobs
    )
    assert value(samples, "drift_uploads_in_progress") == 0
    assert ("drift_auth_failures_total", frozenset()) in samples
    reads = value(
        samples,
        "drift_storage_operation_duration_seconds_count",
        driver="filesystem",
        operation="get_content",
    )
    assert reads >= 2  # at least the tag link and the manifest revision
    errors = [v for (name, _), v in samples.items() if name == "drift_storage_errors_total"]
    assert errors
    assert not any(errors)
    for _ in range(4):  # whichever worker answers
        assert requests_counted(scrape(url), sent) == expected


def test_uploads_in_progress_is_live(drift: RunningRegistry) -> None:
    with HttpClient(drift.url) as http:
        location = http.post("/v2/metrics/live/blobs/uploads/").header("Location")
        assert location
        target = http.target(location)
    with socket.create_connection(("127.0.0.1", drift.port)) as sock:
        head = f"PATCH {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        sock.sendall(head.encode() + b"x" * 10)
        deadline = time.monotonic() + 5.0
        while value(scrape(drift.url), "drift_uploads_in_progress") != 1:
            assert time.monotonic() < deadline, "the stalled PATCH was never counted"
            time.sleep(0.05)
    deadline = time.monotonic() + 5.0
    while value(scrape(drift.url), "drift_uploads_in_progress") != 0:
        assert time.monotonic() < deadline, "the aborted PATCH is still counted"
        time.sleep(0.05)


def test_disabled_metrics_cost_nothing_and_are_404(tmp_path: Path) -> None:
    env = {**QUIET, "DRIFT_METRICS_ENABLED": "false", "DRIFT_LOG": "warning"}
    with start_drift(tmp_path / "data", env=env) as server, HttpClient(server.url) as http:
        reply = http.get("/metrics")
        assert reply.status == 404
        assert reply.header("X-Request-Id") is None  # no instrumentation in the path at all
        assert http.get("/v2/").header("X-Request-Id") is None


def test_refused_credentials_are_counted_not_missing_ones(tmp_path: Path) -> None:
    env = {**QUIET, "DRIFT_AUTH": "basic", "DRIFT_USERS": "alice:wonderland"}
    with start_drift(tmp_path / "data", env=env) as server:
        assert request(server.url, "GET", "/v2/")[0] == 401  # no credentials: the challenge
        wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:guess").decode()}
        for _ in range(3):
            assert request(server.url, "GET", "/v2/", headers=wrong)[0] == 401
        time.sleep(0.3)  # tallies are published every 100 ms
        assert value(scrape(server.url), "drift_auth_failures_total") == 3
