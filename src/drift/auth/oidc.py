"""OIDC workload identity: an ID token of the configured OpenID provider authenticates its subject.

A CI job (GitHub Actions, GitLab, a Kubernetes service account...) presents the ID token its
platform issued, as password or bearer credential; Drift checks it as an OpenID Connect Core 1.0
section 3.1.3.7 relying party would: signature by a key of the issuer's JWKS with an asymmetric
algorithm, ``iss`` equal to the configured issuer, ``aud`` containing the expected audience,
``exp``/``nbf``/``iat`` within a small leeway. The caller becomes
``Identity(OIDC, name=<user claim>, groups=<group claims>)``.

A verified token's identity is cached until the token expires (bounded), so a client that sends
the same token with every request pays for one signature check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Any, Final

import jwt
import orjson

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import Identity, IdentityKind
from drift.auth.oidc_keys import ALLOWED_ALGORITHMS, OidcKeys
from drift.config.settings import OidcSettings

__all__ = ["ALLOWED_ALGORITHMS", "OidcVerifier", "looks_like_jwt"]

REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub")
MAX_TOKEN_LENGTH: Final = 16 * 1024
_B64URL: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def looks_like_jwt(text: str) -> bool:
    """Whether ``text`` is shaped like a JWS compact serialization (RFC 7515 section 7.1): three
    base64url segments whose first decodes to a JSON object with an ``alg``. Tells an ID token
    presented as password from a password; says nothing about its validity."""
    if len(text) > MAX_TOKEN_LENGTH or text.count(".") != 2:
        return False
    raw = text.encode("ascii", "replace")
    header, payload, signature = raw.split(b".")
    if not header or not payload or not _B64URL.issuperset(header + payload + signature):
        return False
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(header + b"=" * (-len(header) % 4)))
    except (binascii.Error, orjson.JSONDecodeError):
        return False
    return isinstance(decoded, dict) and isinstance(decoded.get("alg"), str)


class OidcVerifier:
    """Verifies ID tokens of ``settings.issuer`` meant for ``settings.expected_audience``.

    ``leeway`` (seconds) absorbs clock skew on exp/nbf/iat; the key-cache intervals are those of
    ``OidcKeys``. Call ``close()`` when done (it closes the HTTP session to the provider).
    """

    def __init__(
        self,
        settings: OidcSettings,
        *,
        leeway: float = 30.0,
        cache_size: int = 1024,
        timeout: float = 5.0,
        jwks_ttl: float = 600.0,
        refetch_interval: float = 30.0,
        retry_interval: float = 5.0,
    ) -> None:
        if not settings.issuer or not settings.expected_audience:
            raise ValueError("OIDC needs an issuer and a client_id or audience")
        self._settings = settings
        self._leeway = leeway
        self._cache_size = cache_size
        self._cache_ttl = jwks_ttl
        # sha256(token) -> (identity, until): the token itself is never kept.
        self._cache: dict[bytes, tuple[Identity, float]] = {}
        self._keys = OidcKeys(
            settings.issuer,
            ttl=jwks_ttl,
            refetch_interval=refetch_interval,
            retry_interval=retry_interval,
            timeout=timeout,
        )

    @property
    def issuer(self) -> str:
        return self._settings.issuer

    async def verify(self, token: str) -> Identity:
        """The identity the ID token proves, or InvalidCredentialsError saying why not."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidCredentialsError("ID token too long")
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        cached = self._cache.get(digest)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            del self._cache[digest]
        claims = await self._verified_claims(token)
        identity = self._identity(claims)
        self._remember(digest, identity, float(claims["exp"]))
        return identity

    async def close(self) -> None:
        await self._keys.close()

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidCredentialsError("malformed ID token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
            raise InvalidCredentialsError(f"ID token algorithm {alg!r} is not allowed")
        if kid is not None and not isinstance(kid, str):
            raise InvalidCredentialsError("ID token kid is not a string")
        key = await self._keys.key_for(kid, alg)
        settings = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=settings.expected_audience,
                issuer=settings.issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
            )
        except jwt.InvalidSignatureError:
            raise InvalidCredentialsError("ID token signature does not verify") from None
        except jwt.ExpiredSignatureError:
            raise InvalidCredentialsError("ID token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidCredentialsError("ID token not valid yet (nbf or iat)") from None
        except jwt.InvalidAudienceError:
            raise InvalidCredentialsError(
                f"ID token not meant for audience {settings.expected_audience!r}"
            ) from None
        except jwt.InvalidIssuerError:
            raise InvalidCredentialsError(f"ID token not issued by {settings.issuer!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidCredentialsError(f"ID token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise InvalidCredentialsError(f"invalid ID token: {exc}") from None
        if claims.get("iss") != settings.issuer:  # exact match (OIDC Core 3.1.3.7 step 2)
            raise InvalidCredentialsError(f"ID token not issued by {settings.issuer!r}")
        return claims

    def _identity(self, claims: dict[str, Any]) -> Identity:
        name = claims.get(self._settings.user_claim)
        if not isinstance(name, str) or not name:
            raise InvalidCredentialsError(
                f"ID token has no string {self._settings.user_claim!r} claim"
            )
        groups: set[str] = set()
        for claim in self._settings.groups_claims:
            value = claims.get(claim)
            values = [value] if isinstance(value, str) else value
            if isinstance(values, list):
                groups.update(item for item in values if isinstance(item, str) and item)
        return Identity(IdentityKind.OIDC, name, frozenset(groups))

    def _remember(self, digest: bytes, identity: Identity, exp: float) -> None:
        """Cache until the token expires, and no longer than the key cache: a key the provider
        withdraws stops authenticating cached tokens within that time as well."""
        if self._cache_size <= 0:
            return
        now = time.time()
        if len(self._cache) >= self._cache_size:
            for stale in [d for d, (_, until) in self._cache.items() if until <= now]:
                del self._cache[stale]
            while len(self._cache) >= self._cache_size:
                del self._cache[next(iter(self._cache))]
        self._cache[digest] = (identity, min(exp, now + self._cache_ttl))
