"""The QUIC listener's certificate: configured, or self-signed once and kept (no sockets)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from drift.config.settings import (
    QuicEncryption,
    QuicSettings,
    ServerSettings,
    Settings,
    StorageSettings,
)
from drift.quic.certificate import CertificateError, prepare_certificate
from tests.support.quic import spki_pin_of
from tests.support.tls import make_pki


def _settings(
    root: Path, encryption: QuicEncryption = QuicEncryption.AUTO, **quic: object
) -> Settings:
    return Settings(
        storage=StorageSettings(fs_root=root),
        quic=QuicSettings(encryption=encryption, **quic),  # type: ignore[arg-type]
    )


def test_a_self_signed_certificate_is_made_once_and_kept(tmp_path: Path) -> None:
    first = prepare_certificate(_settings(tmp_path))
    assert first.self_signed
    assert first.chain == tmp_path / ".drift" / "quic" / "cert.pem"
    assert first.key.stat().st_mode & 0o777 == 0o600
    assert first.pin == spki_pin_of(first.chain)
    pem = first.chain.read_bytes()
    again = prepare_certificate(_settings(tmp_path))
    assert again == first
    assert again.chain.read_bytes() == pem
    names = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert "localhost" in names.value.get_values_for_type(x509.DNSName)


def test_an_expiring_certificate_is_renewed_with_the_same_key(tmp_path: Path) -> None:
    made = prepare_certificate(_settings(tmp_path))
    key = serialization.load_pem_private_key(made.key.read_bytes(), password=None)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "old")])
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    made.chain.write_bytes(expired.public_bytes(serialization.Encoding.PEM))
    renewed = prepare_certificate(_settings(tmp_path))
    assert renewed.pin == made.pin
    certificate = x509.load_pem_x509_certificate(renewed.chain.read_bytes())
    assert certificate.not_valid_after_utc > now + dt.timedelta(days=300)


def test_the_configured_certificate_wins_unless_self_signed_is_asked(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    server = ServerSettings(tls_cert=pki.cert, tls_key=pki.key)
    for encryption in (QuicEncryption.AUTO, QuicEncryption.CERTIFICATE):
        settings = Settings(
            server=server,
            storage=StorageSettings(fs_root=tmp_path / "data"),
            quic=QuicSettings(encryption=encryption),
        )
        chosen = prepare_certificate(settings)
        assert (chosen.chain, chosen.key, chosen.self_signed) == (pki.cert, pki.key, False)
        assert chosen.pin == spki_pin_of(pki.cert)
    quic_only = _settings(tmp_path / "data", cert=pki.cert, key=pki.key)
    assert prepare_certificate(quic_only).chain == pki.cert
    own = Settings(
        server=server,
        storage=StorageSettings(fs_root=tmp_path / "data"),
        quic=QuicSettings(encryption=QuicEncryption.SELF_SIGNED),
    )
    assert prepare_certificate(own).self_signed


def test_certificate_mode_without_a_certificate_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match=r"needs quic\.cert"):
        prepare_certificate(_settings(tmp_path, QuicEncryption.CERTIFICATE))


def test_an_unreadable_certificate_refuses_to_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate")
    with pytest.raises(CertificateError, match="cannot read"):
        prepare_certificate(_settings(tmp_path, cert=broken, key=broken))
