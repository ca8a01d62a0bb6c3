"""The access log of a real server run: one JSON line per request, and never a secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import HttpClient, with_query
from tests.support.servers import start_drift

PASSWORD = "hunter2-Pa55word-xyzzy"
AUTHORIZATION = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"


def access_lines(log: Path) -> tuple[list[str], list[dict[str, Any]]]:
    text = log.read_text()
    lines = text.splitlines()
    parsed = [json.loads(line) for line in lines]  # every line of the run is JSON
    return lines, [entry for entry in parsed if entry.get("logger") == "drift.access"]


def test_access_lines_are_json_complete_and_secret_free(tmp_path: Path) -> None:
    log = tmp_path / "drift.log"
    env = {"DRIFT_LOG": "info", "DRIFT_DRAIN_SECONDS": "0"}
    blob = random_bytes(5000, "accesslog")
    server = start_drift(tmp_path / "data", workers=2, env=env, log_path=log)
    with server, HttpClient(server.url) as http:
        secret_headers = {"Authorization": AUTHORIZATION, "X-Request-Id": "ci-run-42.a:b"}
        reply = http.post("/v2/logs/app/blobs/uploads/", headers=secret_headers)
        assert reply.status == 202
        assert reply.header("X-Request-Id") == "ci-run-42.a:b"
        location = http.target(reply.header("Location") or "")
        state = parse_qs(urlsplit(location).query)["_state"][0]
        assert len(state) > 16
        target = with_query(location, digest=digest_of(blob))
        reply = http.put(
            target, body=blob, headers={"Authorization": BEARER, "X-Request-Id": "x" * 300}
        )
        assert reply.status == 201
        generated = reply.header("X-Request-Id")
        assert generated
        assert generated != "x" * 300
        assert http.get("/v2/logs/app/blobs/" + digest_of(blob)).body == blob
        for probe in ("/healthz", "/readyz", "/metrics"):
            assert http.get(probe).status == 200
    lines, entries = access_lines(log)
    assert all(line.startswith("{") for line in lines)
    for line in lines:
        for secret in (PASSWORD, AUTHORIZATION, BEARER, BEARER.split()[1], state):
            assert secret not in line
        assert "_state" not in line
    by_route = {entry["route"]: entry for entry in entries}
    assert set(by_route) == {"base", "upload_start", "upload", "blob"}  # probes: debug only
    post, put, get = by_route["upload_start"], by_route["upload"], by_route["blob"]
    assert post["request_id"] == "ci-run-42.a:b"
    assert put["request_id"] == generated
    assert (put["method"], put["status"], put["bytes_in"], put["bytes_out"]) == (
        "PUT",
        201,
        5000,
        0,
    )
    assert (get["method"], get["status"], get["bytes_out"]) == ("GET", 200, 5000)
    for entry in (post, put, get):
        assert entry["level"] == "info"
        assert entry["repository"] == "logs/app"
        assert entry["user"] is None  # anonymous until the auth issue
        assert entry["transport"] == "h1"
        assert entry["remote"] == "127.0.0.1"
        assert entry["duration_ms"] >= 0
        assert "?" not in entry["path"]
        assert entry["ts"].endswith("Z")


def test_debug_level_logs_probes_and_text_format_works(tmp_path: Path) -> None:
    log = tmp_path / "drift.log"
    env = {"DRIFT_LOG": "debug", "DRIFT_LOG_FORMAT": "text", "DRIFT_DRAIN_SECONDS": "0"}
    with (
        start_drift(tmp_path / "data", env=env, log_path=log) as server,
        HttpClient(server.url) as http,
    ):
        assert http.get("/healthz").status == 200
    text = log.read_text()
    assert "DEBUG   drift.access: GET /healthz 200 request_id=" in text
    assert "INFO    drift.access: GET /v2/ 200 request_id=" in text
