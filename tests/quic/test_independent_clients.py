"""HTTP/3 clients that share no code with aioquic: curl (libcurl with ngtcp2, through
``curl_cffi``) and Debian's headless Chromium (through playwright, forced to QUIC for the origin,
trusting the certificate only by the SPKI pin Drift logged).

The server sends datagrams of up to 16 KiB: Chromium announces a ``max_udp_payload_size`` of 1472
bytes, so it only gets its pages when Drift honours the peer's limit.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator

import pytest
from curl_cffi import CurlHttpVersion, CurlOpt, requests
from curl_cffi.requests.exceptions import RequestException
from playwright.sync_api import sync_playwright

from tests.quic.scenarios import MIB, push_monolithic
from tests.support.quic import H3Server, spki_pin_of, start_drift_h3
from tests.support.rawhttp import HttpClient
from tests.support.registry import unique_repo
from tests.support.tools import require_tool

pytestmark = pytest.mark.clients

HTTP3 = 30  # CURL_HTTP_VERSION_3: what libcurl reports for a response received over HTTP/3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H3Server]:
    root = tmp_path_factory.mktemp("quic-clients") / "data"
    env = {"DRIFT_QUIC_MAX_DATAGRAM_SIZE": "16384", "DRIFT_LOG": "info"}
    with start_drift_h3(root, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def blob(server: H3Server) -> tuple[str, str, bytes]:
    repo = unique_repo("indep")
    data = random.Random("independent-clients").randbytes(4 * MIB + 11)
    with HttpClient(server.registry.url) as http:
        return repo, push_monolithic(http, repo, data), data


def logged_pin(server: H3Server) -> str:
    for line in server.registry.log_path.read_text().splitlines():
        if '"spki_pin"' in line:
            return str(json.loads(line)["spki_pin"])
    raise AssertionError("Drift did not log its SPKI pin")


def test_the_logged_pin_matches_the_certificate(server: H3Server) -> None:
    assert logged_pin(server) == spki_pin_of(server.certificate)


def test_curl_pulls_over_http3_trusting_the_certificate(
    server: H3Server, blob: tuple[str, str, bytes]
) -> None:
    repo, digest, data = blob
    with requests.Session(http_version=CurlHttpVersion.V3ONLY, verify=str(server.certificate)) as s:
        base = s.get(f"{server.h3_url}/v2/")
        assert base.status_code == 200
        assert base.http_version == HTTP3
        assert base.json() == {}
        pulled = s.get(f"{server.h3_url}/v2/{repo}/blobs/{digest}", stream=True)
        hasher, size = hashlib.sha256(), 0
        for chunk in pulled.iter_content():
            hasher.update(chunk)
            size += len(chunk)
        assert pulled.status_code == 200
        assert pulled.http_version == HTTP3
        assert f"sha256:{hasher.hexdigest()}" == digest
        assert size == len(data)
        part = s.get(
            f"{server.h3_url}/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=1000-1999"}
        )
        assert part.status_code == 206
        assert part.content == data[1000:2000]


def test_curl_pushes_over_http3_with_the_pin(server: H3Server) -> None:
    pin = {CurlOpt.PINNEDPUBLICKEY: f"sha256//{logged_pin(server)}"}
    repo, data = unique_repo("indep"), b"pushed by curl over HTTP/3\n" * 1000
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    with requests.Session(http_version=CurlHttpVersion.V3ONLY, verify=False, curl_options=pin) as s:
        pushed = s.post(
            f"{server.h3_url}/v2/{repo}/blobs/uploads/?digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert pushed.status_code == 201, pushed.text
        assert pushed.http_version == HTTP3
        assert s.get(f"{server.h3_url}/v2/{repo}/blobs/{digest}").content == data


def test_curl_refuses_a_wrong_pin(server: H3Server) -> None:
    wrong = {CurlOpt.PINNEDPUBLICKEY: "sha256//" + "A" * 43 + "="}
    with (
        requests.Session(
            http_version=CurlHttpVersion.V3ONLY, verify=False, curl_options=wrong
        ) as s,
        pytest.raises(RequestException, match="pinned public key"),
    ):
        s.get(f"{server.h3_url}/v2/")


_DIGEST_JS = """async (url) => {
    const response = await fetch(url, { signal: AbortSignal.timeout(20000) });
    const body = await response.arrayBuffer();
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
    return {
        status: response.status,
        size: body.byteLength,
        digest: "sha256:" + Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join(""),
        protocol: performance.getEntriesByName(url)[0].nextHopProtocol,
    };
}"""


def test_chromium_pulls_over_http3_with_the_pin(
    server: H3Server, blob: tuple[str, str, bytes]
) -> None:
    chromium = require_tool("chromium")
    repo, digest, data = blob
    port = server.quic_port
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--enable-quic",
                f"--origin-to-force-quic-on=127.0.0.1:{port}",
                f"--ignore-certificate-errors-spki-list={logged_pin(server)}",
            ],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            base = page.goto(f"{server.h3_url}/v2/")
            assert base is not None
            assert base.status == 200
            assert (
                page.evaluate("() => performance.getEntriesByType('navigation')[0].nextHopProtocol")
                == "h3"
            )
            pulled = page.evaluate(_DIGEST_JS, f"{server.h3_url}/v2/{repo}/blobs/{digest}")
        finally:
            browser.close()
    assert pulled == {"status": 200, "size": len(data), "digest": digest, "protocol": "h3"}
