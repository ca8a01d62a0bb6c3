"""Drift with its HTTP/3 listener on loopback, and what the HTTP/3 tests need around it.

``start_drift_h3`` starts ``drift serve`` with QUIC on a free UDP port of 127.0.0.1 (the plain
``start_drift`` turns QUIC off); the listener's certificate is the self-signed one Drift makes in
``<root>/.drift/quic/`` unless the environment configures another.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.h3client import H3Client
from tests.support.lifecycle import ClosesOnExit
from tests.support.servers import RunningRegistry, start_drift
from tests.support.tls import LoopbackPki

__all__ = ["H3Server", "free_udp_port", "spki_pin_of", "start_drift_h3"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spki_pin_of(certificate_pem: Path) -> str:
    """base64 SHA-256 of the certificate's SubjectPublicKeyInfo, computed here independently."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.read_bytes())
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@dataclass
class H3Server(ClosesOnExit):
    registry: RunningRegistry
    quic_port: int

    @property
    def certificate(self) -> Path:
        return self.registry.root / ".drift" / "quic" / "cert.pem"

    @property
    def h3_url(self) -> str:
        return f"https://127.0.0.1:{self.quic_port}"

    def h3_client(self, **options: object) -> H3Client:
        """An HTTP/3 client that verifies the server's self-signed certificate."""
        return H3Client(
            "127.0.0.1",
            self.quic_port,
            cafile=str(self.certificate),
            **options,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        self.registry.close()


def start_drift_h3(
    root: Path,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    quic_port: int = 0,
    tls: LoopbackPki | None = None,
) -> H3Server:
    port = quic_port or free_udp_port()
    quic_env = {"DRIFT_QUIC_ENABLED": "true", "DRIFT_QUIC_ADDR": f"127.0.0.1:{port}"}
    registry = start_drift(root, workers=workers, env={**quic_env, **(env or {})}, tls=tls)
    return H3Server(registry, port)
