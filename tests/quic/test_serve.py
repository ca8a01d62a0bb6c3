"""``drift serve`` with its HTTP/3 listener: advertised by Alt-Svc, one socket per worker, the
certificate kept across restarts, the configured certificate used, a graceful stop that lets an
HTTP/3 download finish, and a clear refusal to start without the certificate it was told to use.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from curl_cffi import CurlHttpVersion, requests

from tests.quic.scenarios import MIB, push_monolithic
from tests.support.h3client import H3Client
from tests.support.quic import H3Server, free_udp_port, spki_pin_of, start_drift_h3
from tests.support.rawhttp import HttpClient
from tests.support.registry import assert_error, unique_repo
from tests.support.servers import free_port
from tests.support.tls import make_pki


def _h3_request_processes(server: H3Server) -> set[str]:
    """The processes that answered HTTP/3 requests (request ids start with a per-process tag)."""
    tags = set()
    for line in server.registry.log_path.read_text().splitlines():
        if '"drift.access"' in line:
            record = json.loads(line)
            if record["transport"] == "h3":
                tags.add(record["request_id"].split("-")[0])
    return tags


def _logged_pins(server: H3Server) -> list[str]:
    lines = server.registry.log_path.read_text().splitlines()
    return [json.loads(line)["spki_pin"] for line in lines if '"spki_pin"' in line]


def test_http1_responses_advertise_the_listener(h3_server: H3Server) -> None:
    advertised = f'h3=":{h3_server.quic_port}"; ma=86400'
    with HttpClient(h3_server.registry.url) as http:
        assert http.get("/v2/").header("Alt-Svc") == advertised
        missing = http.get(f"/v2/{unique_repo('alt')}/manifests/latest")
        assert_error(missing, 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN")
        assert missing.header("Alt-Svc") == advertised
    with h3_server.h3_client() as h3:
        assert h3.get("/v2/").header("Alt-Svc") is None


def test_every_worker_serves_http3_and_the_certificate_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "data"
    env = {"DRIFT_LOG": "info"}
    with start_drift_h3(root, env=env, workers=2) as server:
        clients = [server.h3_client() for _ in range(16)]  # 16 source ports, hashed by the kernel
        try:
            for client in clients:
                assert client.get("/v2/").status == 200
        finally:
            for client in clients:
                client.close()
        server.registry.stop()
        assert len(_h3_request_processes(server)) == 2
        first_pin = _logged_pins(server)
        assert first_pin == [spki_pin_of(server.certificate)]
    with start_drift_h3(root, env=env) as again:
        assert _logged_pins(again)[-1] == first_pin[0]
        with again.h3_client() as client:
            assert client.get("/v2/").status == 200


def test_the_configured_tls_certificate_serves_http3(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with start_drift_h3(tmp_path / "data", tls=pki) as server:
        assert not server.certificate.exists()  # nothing self-signed was made
        with H3Client("127.0.0.1", server.quic_port, cafile=str(pki.ca_cert)) as client:
            assert client.get("/v2/").status == 200


def test_sigterm_lets_an_http3_download_finish(tmp_path: Path) -> None:
    data = os.urandom(24 * MIB)
    env = {"DRIFT_DRAIN_SECONDS": "0", "DRIFT_SHUTDOWN_TIMEOUT": "60s"}
    with start_drift_h3(tmp_path / "data", env=env) as server:
        repo = unique_repo("stop")
        with HttpClient(server.registry.url) as http:
            digest = push_monolithic(http, repo, data)
        started, outcome = threading.Event(), []

        def pull() -> None:
            hasher, url = hashlib.sha256(), f"{server.h3_url}/v2/{repo}/blobs/{digest}"
            with requests.Session(http_version=CurlHttpVersion.V3ONLY, verify=False) as s:
                response = s.get(url, stream=True, timeout=120)
                for chunk in response.iter_content():
                    started.set()
                    hasher.update(chunk)
            outcome.append(f"sha256:{hasher.hexdigest()}")

        puller = threading.Thread(target=pull, daemon=True)
        puller.start()
        assert started.wait(30)
        server.registry.process.send_signal(signal.SIGTERM)
        puller.join(120)
        assert outcome == [digest]
        assert server.registry.process.wait(30) == 0


def test_certificate_mode_without_a_certificate_does_not_start(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFT_")},
        "DRIFT_FS_ROOT": str(tmp_path / "data"),
        "DRIFT_BIND_ADDR": f"127.0.0.1:{free_port()}",
        "DRIFT_UI_ADDR": f"127.0.0.1:{free_port()}",
        "DRIFT_AUTH": "none",
        "DRIFT_WORKERS": "1",
        "DRIFT_QUIC_ADDR": f"127.0.0.1:{free_udp_port()}",
        "DRIFT_QUIC_ENCRYPTION": "certificate",
        "DRIFT_LOG_FORMAT": "text",
    }
    result = subprocess.run(
        [sys.executable, "-m", "drift", "serve"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert b"cannot start the HTTP/3 listener" in result.stderr
    assert b"needs quic.cert" in result.stderr
