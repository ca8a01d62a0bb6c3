"""The servers of the HTTP/3 benchmark: Drift with its QUIC listener, and the minimal yardstick.

Drift runs ``drift serve`` with HTTPS/1.1 on its API port and HTTP/3 on a free UDP port, both
with the certificate of a throw-away test CA (``tests.support.tls``), the datagram size given
by ``DRIFT_QUIC_MAX_DATAGRAM_SIZE``. One store serves every datagram size: Drift is restarted on
it for each. The minimal server (``bench.quic_minimal``) runs as a process of its own with the
same certificate, datagram size and event loop (uvloop), serving one file.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.support.quic import free_udp_port, start_drift_h3
from tests.support.servers import RunningRegistry
from tests.support.tls import LoopbackPki

from drift.quic.connection import MAX_DATAGRAM_SIZE

__all__ = [
    "STANDARD_DATAGRAM_SIZE",
    "DriftH3",
    "MinimalServer",
    "datagram_sizes",
    "largest_loopback_datagram",
    "start_drift",
    "start_minimal",
]

STANDARD_DATAGRAM_SIZE: Final = 1350  # aioquic's default; fits any Internet path
_IP_UDP_HEADERS: Final = 20 + 8
_READY_TIMEOUT: Final = 30.0


def largest_loopback_datagram() -> int:
    """The loopback MTU less the IPv4 and UDP headers, capped at what aioquic can fill."""
    try:
        mtu = int(Path("/sys/class/net/lo/mtu").read_text())
    except (OSError, ValueError):
        mtu = 65536
    return min(mtu - _IP_UDP_HEADERS, MAX_DATAGRAM_SIZE)


def datagram_sizes(configured: tuple[int, ...]) -> tuple[int, ...]:
    return configured or (STANDARD_DATAGRAM_SIZE, largest_loopback_datagram())


@dataclass(frozen=True, slots=True)
class DriftH3:
    registry: RunningRegistry
    quic_port: int

    @property
    def pid(self) -> int:
        return self.registry.process.pid

    @property
    def https_port(self) -> int:
        return self.registry.port


@contextlib.contextmanager
def start_drift(
    root: Path, pki: LoopbackPki, datagram_size: int, workers: int, env: dict[str, str]
) -> Iterator[DriftH3]:
    quic_env = {"DRIFT_QUIC_MAX_DATAGRAM_SIZE": str(datagram_size), **env}
    with start_drift_h3(root, env=quic_env, workers=workers, tls=pki) as server:
        yield DriftH3(server.registry, server.quic_port)


@dataclass(frozen=True, slots=True)
class MinimalServer:
    process: subprocess.Popen[str]
    port: int
    size: int  # of the file it serves

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def start_minimal(
    path: Path, pki: LoopbackPki, datagram_size: int, log_path: Path
) -> Iterator[MinimalServer]:
    port = free_udp_port()
    command = [
        *(sys.executable, "-m", "bench.quic_minimal", "--file", str(path)),
        *("--cert", str(pki.cert), "--key", str(pki.key)),
        *("--port", str(port), "--max-datagram-size", str(datagram_size)),
    ]
    with log_path.open("a") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
    try:
        _wait_ready(process, log_path)
        yield MinimalServer(process, port, path.stat().st_size)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_ready(process: subprocess.Popen[str], log_path: Path) -> None:
    """The server prints one line once it listens (after reading its file)."""
    assert process.stdout is not None
    try:
        line = _first_line(process, _READY_TIMEOUT)
    except TimeoutError:
        process.kill()
        raise
    if "minimal HTTP/3 server on" not in line:
        process.wait()
        raise RuntimeError(f"the minimal server did not start: {log_path.read_text()[-2000:]}")


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"the minimal server printed nothing within {timeout:g} s")
    return process.stdout.readline()
