"""The keys of an external token issuer (``[token] public_key`` or ``jwks_url``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from drift.auth.errors import InvalidCredentialsError
from drift.auth.oidc_keys import ALLOWED_ALGORITHMS, OidcKeys
from drift.auth.registry_tokens import KeyResolver, StaticKey
from drift.config.settings import TokenSettings

__all__ = ["JwksKeys", "external_keys"]

_RSA: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC: Final = {256: "ES256", 384: "ES384", 521: "ES512"}


def _pem_key(path: Path) -> StaticKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if isinstance(key, rsa.RSAPublicKey):
        return StaticKey(key, _RSA)
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size in _EC:
        return StaticKey(key, frozenset({_EC[key.curve.key_size]}))
    if isinstance(key, ed25519.Ed25519PublicKey):
        return StaticKey(key, frozenset({"EdDSA"}))
    raise ValueError(f"{path}: expected an RSA, EC (P-256/384/521) or Ed25519 public key")


class JwksKeys:
    """Any key of a JWK Set, chosen by the token's ``kid`` and ``alg`` (asymmetric only)."""

    def __init__(self, keys: OidcKeys) -> None:
        self._keys = keys

    async def key_for(self, header: dict[str, Any]) -> tuple[Any, str]:
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in ALLOWED_ALGORITHMS:
            raise InvalidCredentialsError(f"bearer token algorithm {algorithm!r} refused")
        return await self._keys.key_for(kid if isinstance(kid, str) else None, algorithm), algorithm

    async def close(self) -> None:
        await self._keys.close()


def external_keys(settings: TokenSettings) -> KeyResolver:
    if settings.public_key is not None:
        return _pem_key(settings.public_key)
    return JwksKeys(OidcKeys(settings.issuer, jwks_uri=settings.jwks_url))
