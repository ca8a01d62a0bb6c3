"""HTTPS/1.1 clients of the HTTP/3 benchmark: the registry operations over TLS, pulls by curl.

Pushes and the seeding of images go through ``bench.registry_client`` on a TLS connection (the
request bodies through ``socket.sendfile``, which an ``ssl.SSLSocket`` turns into plain sends).
Pulls run one ``curl --http1.1`` process with all streams in parallel, trusting only the test
CA; the aggregate rate is the bytes over the wall time of that process (start, TLS handshakes
and all).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from typing import Final

from tests.support.tls import LoopbackPki

from bench.rawhttp import Connection
from bench.registry_client import RegistryClient

__all__ = ["TlsConnection", "curl_pull", "tls_registry_client"]

_SERVER_NAME: Final = "localhost"


class TlsConnection(Connection):
    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(host, port)
        self._context = context

    def _connected(self) -> socket.socket:
        if self._sock is None:
            raw = socket.create_connection((self.host, self.port))
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = self._context.wrap_socket(raw, server_hostname=_SERVER_NAME)
        return self._sock


def tls_registry_client(host: str, port: int, repo: str, pki: LoopbackPki) -> RegistryClient:
    client = RegistryClient(host, port, repo)
    client.conn = TlsConnection(host, port, pki.client_context())
    return client


def curl_pull(url: str, streams: int, pki: LoopbackPki, expected_size: int) -> tuple[int, float]:
    """GET ``url`` on ``streams`` parallel connections; (bytes received, seconds)."""
    curl = shutil.which("curl")
    if curl is None:
        raise RuntimeError("curl is needed for the HTTPS/1.1 pulls")
    command = [
        *(curl, "--http1.1", "--silent", "--show-error", "--fail", "--noproxy", "*"),
        *("--cacert", str(pki.ca_cert), "--parallel", "--parallel-immediate"),
        *("--parallel-max", str(streams), "--write-out", "%{http_code} %{size_download}\\n"),
    ]
    for _ in range(streams):
        command += [url, "--output", "/dev/null"]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()[:500]}")
    replies = [line.split() for line in done.stdout.splitlines() if line.strip()]
    sizes = [int(size) for status, size in replies if status == "200"]
    if len(sizes) != streams or any(size != expected_size for size in sizes):
        raise RuntimeError(f"curl pulls of {url}: {replies}, want {streams} x {expected_size}")
    return sum(sizes), seconds
