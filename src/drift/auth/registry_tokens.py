"""Bearer tokens of the Docker token flow: issued by ``/auth/token``, checked on every request.

A token is a JWT (RFC 7519) whose ``access`` claim lists the granted scopes, as the Docker
token specification describes; Drift adds a private ``drift`` claim naming the identity (kind,
name, groups, admin flag) so that the catalog can be filtered for it. Verification accepts only the
algorithm of the verifying key (never ``none``, never an HMAC keyed with a public key) and checks
signature, ``exp``, ``nbf``, ``iat``, ``iss`` and ``aud``. Tokens come either from Drift's own key
or, when ``[token] public_key``/``jwks_url`` is set, from an external issuer (then only those).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import jwt

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import ANONYMOUS, Identity, IdentityKind
from drift.auth.signing_key import SigningKey
from drift.config.settings import TokenSettings
from drift.core.access import Access

__all__ = [
    "IssuedToken",
    "KeyResolver",
    "StaticKey",
    "TokenIssuer",
    "TokenVerifier",
    "VerifiedToken",
]

LEEWAY_SECONDS: Final = 30
_CACHE_LIMIT: Final = 4096
_REQUIRED: Final = ["exp", "iat", "iss", "aud"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: str  # RFC 3339


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    identity: Identity
    accesses: tuple[Access, ...]
    expires_at: float
    own: bool  # issued by this registry: its identity claim can be trusted for filtering

    def grants(self, access: Access) -> bool:
        return any(
            held.type == access.type and held.name == access.name and access.actions <= held.actions
            for held in self.accesses
        )


class KeyResolver(Protocol):
    async def key_for(self, header: dict[str, Any]) -> tuple[Any, str]:
        """The public key that verifies a token with this JOSE header, and its algorithm;
        raises ``InvalidCredentialsError`` when no trusted key matches."""
        ...


class StaticKey:
    """One trusted public key, with the algorithms it may be used with."""

    def __init__(self, key: Any, algorithms: frozenset[str]) -> None:
        self._key = key
        self._algorithms = algorithms

    async def key_for(self, header: dict[str, Any]) -> tuple[Any, str]:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise InvalidCredentialsError(f"bearer token algorithm {algorithm!r} refused")
        return self._key, algorithm


def _access_claim(accesses: Sequence[Access]) -> list[dict[str, object]]:
    return [
        {"type": a.type, "name": a.name, "actions": sorted(a.actions)}
        for a in accesses
        if a.actions
    ]


def _identity_claim(identity: Identity) -> dict[str, object]:
    claim: dict[str, object] = {
        "kind": identity.kind.value,
        "name": identity.name,
        "groups": sorted(identity.groups),
        "admin": identity.admin,
    }
    if identity.limit is not None:  # a robot's scopes: what the policy allows it at most
        claim["limit"] = _access_claim(identity.limit)
    return claim


class TokenIssuer:
    def __init__(self, key: SigningKey, settings: TokenSettings) -> None:
        self._key = key
        self._settings = settings

    def issue(self, identity: Identity, accesses: Sequence[Access]) -> IssuedToken:
        now = int(time.time())
        claims = {
            "iss": self._settings.issuer,
            "sub": identity.subject or "",
            "aud": self._settings.service,
            "exp": now + self._settings.expiry_seconds,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": _access_claim(accesses),
            "drift": _identity_claim(identity),
        }
        token = jwt.encode(
            claims,
            self._key.private_key,
            algorithm=self._key.algorithm,
            headers={"kid": self._key.kid},
        )
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return IssuedToken(token, self._settings.expiry_seconds, issued)


def _accesses(raw: object) -> tuple[Access, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[Access] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        kind, name, actions = item.get("type"), item.get("name"), item.get("actions")
        if isinstance(kind, str) and isinstance(name, str) and isinstance(actions, list):
            out.append(Access(kind, name, frozenset(a for a in actions if isinstance(a, str))))
    return tuple(out)


def _identity(claims: dict[str, Any], own: bool) -> Identity:
    subject = claims.get("sub")
    private = claims.get("drift")
    if own and isinstance(private, dict):
        try:
            kind = IdentityKind(private.get("kind"))
        except ValueError:
            kind = IdentityKind.ANONYMOUS
        if kind is IdentityKind.ANONYMOUS:
            return ANONYMOUS
        groups = private.get("groups")
        return Identity(
            kind,
            str(private.get("name", "")),
            frozenset(g for g in groups if isinstance(g, str))
            if isinstance(groups, list)
            else frozenset(),
            limit=_accesses(private.get("limit")) if kind is IdentityKind.ROBOT else None,
            admin=private.get("admin") is True,
        )
    if isinstance(subject, str) and subject:
        return Identity(IdentityKind.USER, subject)
    return ANONYMOUS


class TokenVerifier:
    def __init__(self, settings: TokenSettings, keys: KeyResolver, *, own: bool) -> None:
        self._settings = settings
        self._keys = keys
        self._own = own
        self._cache: dict[str, VerifiedToken] = {}

    async def verify(self, token: str) -> VerifiedToken:
        cached = self._cache.get(token)
        if cached is not None and cached.expires_at > time.time():
            return cached
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidCredentialsError("bearer token is not a JWT") from None
        key, algorithm = await self._keys.key_for(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._settings.service,
                issuer=self._settings.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": _REQUIRED},
            )
        except jwt.PyJWTError as exc:
            raise InvalidCredentialsError(f"bearer token refused: {exc}") from None
        verified = VerifiedToken(
            _identity(claims, self._own),
            _accesses(claims.get("access")),
            float(claims["exp"]),
            self._own,
        )
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = verified
        return verified
