"""The certificate of the HTTP/3 listener: the configured one, or a self-signed one made once.

QUIC always runs TLS 1.3 (RFC 9001), so the listener needs a certificate even when the HTTP/1.1
API is plain HTTP. Without a configured one (``[quic] encryption = "auto"``), Drift generates an
ECDSA P-256 key and a self-signed certificate on first start in ``<fs_root>/.drift/quic/`` and
keeps them: the key never changes, so the SPKI pin clients trust stays valid across restarts
and certificate renewals. The pin is the base64 SHA-256 of the DER SubjectPublicKeyInfo, the
form of Chromium's ``--ignore-certificate-errors-spki-list`` and of curl's
``--pinnedpubkey sha256//<pin>``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from drift.config.settings import QuicEncryption, Settings
from drift.localfiles import read_or_create

__all__ = ["CertificateError", "QuicCertificate", "prepare_certificate", "spki_pin"]

_VALIDITY: Final = dt.timedelta(days=3650)
_RENEW_BEFORE: Final = dt.timedelta(days=7)
_BACKDATE: Final = dt.timedelta(hours=1)  # tolerate clients whose clock is a little behind
_LOOPBACK: Final = ("127.0.0.1", "::1")


class CertificateError(Exception):
    """No usable certificate for the QUIC listener; Drift does not start."""


@dataclass(frozen=True, slots=True)
class QuicCertificate:
    chain: Path  # PEM: the certificate, then any intermediates
    key: Path  # PEM private key
    pin: str  # base64 SHA-256 of the leaf's SubjectPublicKeyInfo
    self_signed: bool


def spki_pin(certificate: x509.Certificate) -> str:
    return _pin(certificate.public_key())


def _pin(public_key: CertificatePublicKeyTypes) -> str:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def _configured(settings: Settings) -> tuple[Path, Path] | None:
    quic, server = settings.quic, settings.server
    if quic.cert is not None and quic.key is not None:
        return quic.cert, quic.key
    if server.tls_cert is not None and server.tls_key is not None:
        return server.tls_cert, server.tls_key
    return None


def prepare_certificate(settings: Settings) -> QuicCertificate:
    """The certificate the listener serves, generated first when it is to be self-signed.

    Idempotent and safe when several processes start at once; ``drift serve`` calls it before
    forking the workers so that the generation happens once.
    """
    configured = _configured(settings)
    mode = settings.quic.encryption
    if mode is QuicEncryption.CERTIFICATE and configured is None:
        raise CertificateError(
            "[quic] encryption = 'certificate' needs quic.cert and quic.key (or server.tls_cert "
            "and server.tls_key)"
        )
    if configured is not None and mode is not QuicEncryption.SELF_SIGNED:
        chain, key = configured
        try:
            leaf = x509.load_pem_x509_certificates(chain.read_bytes())[0]
        except (OSError, ValueError, IndexError) as exc:
            raise CertificateError(f"cannot read the QUIC certificate {chain}: {exc}") from exc
        return QuicCertificate(chain, key, spki_pin(leaf), self_signed=False)
    return _self_signed(settings.storage.fs_root / ".drift" / "quic", settings.quic.node_id)


def _self_signed(directory: Path, node_id: str) -> QuicCertificate:
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key = serialization.load_pem_private_key(read_or_create(key_path, _new_key), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{key_path} does not hold an EC private key")
    certificate = x509.load_pem_x509_certificate(
        read_or_create(cert_path, lambda: _issue(key, node_id))
    )
    now = dt.datetime.now(dt.UTC)
    stale = certificate.not_valid_after_utc - _RENEW_BEFORE < now
    if stale or spki_pin(certificate) != _pin(key.public_key()):
        _replace(cert_path, _issue(key, node_id))
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return QuicCertificate(cert_path, key_path, spki_pin(certificate), self_signed=True)


def _new_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _names(node_id: str) -> list[x509.GeneralName]:
    dns = {"localhost", socket.gethostname()}
    if node_id:
        dns.add(node_id)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in sorted(dns) if name]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in _LOOPBACK]
    return names


def _issue(key: ec.EllipticCurvePrivateKey, node_id: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Drift QUIC listener")])
    now = dt.datetime.now(dt.UTC) - _BACKDATE
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_names(node_id)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _replace(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}-{os.getpid()}")
    temporary.write_bytes(content)
    os.replace(temporary, path)
