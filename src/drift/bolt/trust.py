"""Which certificate the pull client accepts from the registry's HTTP/3 listener.

Four modes, one per ``driftctl pull`` option:

- ``SYSTEM`` (no option): the certificate must chain to the system's CAs (aioquic's default
  store, certifi) and name the registry host.
- ``CA_FILE`` (``--ca-file``): it must chain to the CAs of that PEM file and name the host.
- ``PIN`` (``--pin sha256/<base64>``): chain and name are not checked; the SHA-256 of the
  certificate's SubjectPublicKeyInfo must equal the pin (the form Drift logs at start, curl's
  ``--pinnedpubkey`` and Chromium's SPKI list use). The TLS 1.3 handshake has already proven
  that the peer holds the certificate's key (aioquic checks CertificateVerify in every mode), so
  matching the key's hash authenticates the registry; the check runs before any request is sent.
- ``INSECURE`` (``--insecure``): anything is accepted (testing only).

An external token realm is fetched over HTTPS/1.1 with ``ssl_context``: the pin is for the
registry's own certificate, so a pinned pull checks the realm against the system CAs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ssl
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

from aioquic.quic.configuration import QuicConfiguration
from cryptography import x509

from drift.bolt.errors import PullError
from drift.quic.certificate import spki_pin

__all__ = ["Trust", "TrustMode", "parse_pin"]

_PIN_PREFIX: Final = "sha256/"
_SHA256_BYTES: Final = 32
_BASE64_LENGTH: Final = 44  # of 32 bytes, padded


class TrustMode(Enum):
    SYSTEM = "system"
    CA_FILE = "ca-file"
    PIN = "pin"
    INSECURE = "insecure"


def parse_pin(text: str) -> str:
    """``sha256/<base64>`` (curl's ``sha256//<base64>`` too) -> the base64 SHA-256."""
    if not text.startswith(_PIN_PREFIX):
        raise PullError(f"invalid --pin {text!r}: expected sha256/<base64 of the SPKI SHA-256>")
    encoded = text[len(_PIN_PREFIX) :]
    if len(encoded) == _BASE64_LENGTH + 1 and encoded.startswith("/"):
        encoded = encoded[1:]  # curl's sha256//<base64>; a base64 pin may itself begin with "/"
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != _SHA256_BYTES:
        raise PullError(f"invalid --pin {text!r}: not the base64 of a 32-byte SHA-256")
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Trust:
    mode: TrustMode = TrustMode.SYSTEM
    ca_file: Path | None = None
    pin: str | None = None  # canonical base64 SHA-256

    @classmethod
    def from_options(cls, ca_file: Path | None, pin: str | None, insecure: bool) -> Trust:
        if insecure:
            return cls(TrustMode.INSECURE)
        if pin is not None:
            return cls(TrustMode.PIN, pin=parse_pin(pin))
        if ca_file is not None:
            if not ca_file.is_file():
                raise PullError(f"--ca-file {ca_file}: no such file")
            return cls(TrustMode.CA_FILE, ca_file=ca_file)
        return cls()

    def configure(self, configuration: QuicConfiguration) -> None:
        """Set the verification of the QUIC handshake."""
        if self.mode in (TrustMode.PIN, TrustMode.INSECURE):
            configuration.verify_mode = ssl.CERT_NONE
        elif self.mode is TrustMode.CA_FILE:
            try:
                configuration.load_verify_locations(cafile=str(self.ca_file))
            except (OSError, ValueError) as exc:
                raise PullError(f"--ca-file {self.ca_file}: {exc}") from None

    def check_peer(self, certificate: x509.Certificate | None) -> None:
        """After the handshake: enforce the pin (the other modes were checked during it)."""
        if self.mode is not TrustMode.PIN:
            return
        assert self.pin is not None
        if certificate is None:
            raise PullError("the registry presented no certificate to check --pin against")
        actual = spki_pin(certificate)
        if not hmac.compare_digest(actual, self.pin):
            raise PullError(
                f"the registry's certificate does not match --pin sha256/{self.pin} "
                f"(its SPKI pin is sha256/{actual})"
            )

    def ssl_context(self) -> ssl.SSLContext | bool:
        """For aiohttp requests to an external token realm (False: no verification)."""
        if self.mode is TrustMode.INSECURE:
            return False
        if self.mode is TrustMode.CA_FILE:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return ssl.create_default_context()
