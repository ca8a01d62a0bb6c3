"""The key that signs Drift's registry tokens: from config, or generated once in the data dir.

ES256 (P-256): small tokens and fast to verify. Generated keys live in
``<data dir>/.drift/token-signing-key.pem`` (mode 0600); the first of several processes starting
at once wins and the others read its key. The ``kid`` is the RFC 7638 JWK thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from drift.localfiles import read_or_create

__all__ = ["KEY_FILE", "SigningKey", "load_signing_key"]

KEY_FILE: Final = "token-signing-key.pem"


@dataclass(frozen=True, slots=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    algorithm: str
    kid: str

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
        return self.private_key.public_key()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _thumbprint(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        size = (numbers.n.bit_length() + 7) // 8
        members = {
            "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "kty": "RSA",
            "n": _b64(numbers.n.to_bytes(size, "big")),
        }
    else:
        point = public.public_numbers()
        size = (public.curve.key_size + 7) // 8
        members = {
            "crv": f"P-{public.curve.key_size}",
            "kty": "EC",
            "x": _b64(point.x.to_bytes(size, "big")),
            "y": _b64(point.y.to_bytes(size, "big")),
        }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


_EC_ALGORITHMS: Final = {256: "ES256", 384: "ES384", 521: "ES512"}


def _from_pem(data: bytes, origin: Path) -> SigningKey:
    key = serialization.load_pem_private_key(data, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size in _EC_ALGORITHMS:
        return SigningKey(key, _EC_ALGORITHMS[key.curve.key_size], _thumbprint(key))
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return SigningKey(key, "RS256", _thumbprint(key))
    raise ValueError(f"{origin}: expected an EC (P-256/384/521) or RSA (>= 2048 bits) private key")


def _generated_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_signing_key(configured: Path | None, data_dir: Path) -> SigningKey:
    """The configured key, else the generated one of the data directory (created if missing)."""
    if configured is not None:
        return _from_pem(configured.read_bytes(), configured)
    path = data_dir / ".drift" / KEY_FILE
    return _from_pem(read_or_create(path, _generated_pem), path)
