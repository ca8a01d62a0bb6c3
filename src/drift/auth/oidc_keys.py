"""The signing keys of an OpenID provider: discovery document and JWKS, fetched and cached.

OpenID Connect Discovery 1.0 section 4: the configuration lives at
``<issuer>/.well-known/openid-configuration`` and its ``issuer`` must equal the configured issuer
exactly (section 4.3); its ``jwks_uri`` names the JWK Set (RFC 7517 section 5) holding the keys
that sign ID tokens. Given a ``jwks_uri`` (an external token issuer), discovery is skipped and
``issuer`` only names the source in messages. Both are fetched with aiohttp, bounded in time and
size, and cached for ``ttl`` seconds. A token naming a ``kid`` the cache lacks forces one early
JWKS refetch (the provider rotated its keys), at most once per ``refetch_interval`` so that
tokens with made-up kids cannot make Drift hammer the provider.

While the provider is unreachable, keys fetched less than ``max_stale`` seconds ago keep
verifying tokens (a short outage of the provider does not lock every workload out); new fetches
are then attempted at most once per ``retry_interval``. Without usable keys every failure is an
``InvalidCredentialsError("OIDC provider unreachable: ...")`` (``"JWKS unreachable: ..."`` for a
configured ``jwks_uri``), never an unhandled exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

import aiohttp
import jwt
import orjson

from drift.auth.errors import InvalidCredentialsError

__all__ = ["ALLOWED_ALGORITHMS", "OidcKeys"]

_log = logging.getLogger(__name__)

# Asymmetric JWS algorithms only (RFC 7518 section 3.1, RFC 8037): never "none", never HS*,
# so a provider's public key can never be used as an HMAC secret.
ALLOWED_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_KEY_TYPE: Final = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), ("RSA", None)),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
_DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
_MAX_DOCUMENT_BYTES: Final = 1 << 20


class _FetchError(Exception):
    """The discovery document or the JWKS could not be fetched or made no sense."""


class OidcKeys:
    """The verification keys of one issuer; ``close()`` releases the HTTP session."""

    def __init__(
        self,
        issuer: str,
        *,
        jwks_uri: str | None = None,
        ttl: float = 600.0,
        refetch_interval: float = 30.0,
        retry_interval: float = 5.0,
        max_stale: float = 3600.0,
        timeout: float = 5.0,
    ) -> None:
        self._issuer = issuer
        self._ttl = ttl
        self._refetch_interval = refetch_interval
        self._retry_interval = retry_interval
        self._max_stale = max_stale
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self._jwks_uri = jwks_uri or None
        self._discovery = self._jwks_uri is None
        self._source = "OIDC provider" if self._discovery else "JWKS"
        self._jwks: list[dict[str, Any]] | None = None
        self._parsed: dict[tuple[str | None, str], jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._failed_at: float | None = None
        self._failure = ""
        self._forced_at: float | None = None

    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """The key that verifies a token with this header ``kid`` and ``alg`` (an allowed one)."""
        if self._jwks is not None and time.monotonic() - self._fetched_at < self._ttl:
            key = self._select(kid, alg)
            if key is not None:
                return key
        async with self._lock:
            if self._jwks is None or time.monotonic() - self._fetched_at >= self._ttl:
                await self._refresh(forced=False)
            key = self._select(kid, alg)
            if key is None and not self._knows(kid) and self._may_force():
                self._forced_at = time.monotonic()
                await self._refresh(forced=True)
                key = self._select(kid, alg)
        if key is None:
            raise InvalidCredentialsError(
                f"no {alg} key with kid {kid!r} in the JWKS of {self._issuer}"
            )
        return key

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _may_force(self) -> bool:
        return (
            self._forced_at is None or time.monotonic() - self._forced_at >= self._refetch_interval
        )

    def _knows(self, kid: str | None) -> bool:
        return kid is not None and any(jwk.get("kid") == kid for jwk in self._jwks or ())

    async def _refresh(self, *, forced: bool) -> None:
        """Refetch (the discovery document unless ``forced``, then the JWKS); on failure keep
        serving keys younger than ``max_stale`` or raise InvalidCredentialsError."""
        now = time.monotonic()
        if self._failed_at is None or now - self._failed_at >= self._retry_interval:
            try:
                if self._jwks_uri is not None and (forced or not self._discovery):
                    jwks_uri = self._jwks_uri
                else:
                    jwks_uri = await self._discover()
                jwks = await self._fetch_jwks(jwks_uri)
            except _FetchError as exc:
                self._failed_at, self._failure = time.monotonic(), str(exc)
                _log.warning("%s of %s unreachable: %s", self._source, self._issuer, exc)
            else:
                self._jwks_uri, self._jwks, self._parsed = jwks_uri, jwks, {}
                self._fetched_at, self._failed_at = time.monotonic(), None
                return
        if self._jwks is None or time.monotonic() - self._fetched_at >= self._max_stale:
            raise InvalidCredentialsError(f"{self._source} unreachable: {self._failure}")

    async def _discover(self) -> str:
        document = await self._get_json(self._issuer.rstrip("/") + _DISCOVERY_PATH)
        if document.get("issuer") != self._issuer:
            raise _FetchError(
                f"discovery document names issuer {document.get('issuer')!r}, "
                f"expected {self._issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _FetchError("discovery document has no jwks_uri")
        return jwks_uri

    async def _fetch_jwks(self, url: str) -> list[dict[str, Any]]:
        keys = (await self._get_json(url)).get("keys")
        if not isinstance(keys, list):
            raise _FetchError(f"{url} is not a JWK Set")
        return [key for key in keys if isinstance(key, dict)]

    async def _get_json(self, url: str) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"Accept": "application/json"},
            )
        try:
            async with self._session.get(url) as response:
                if response.status != 200:
                    raise _FetchError(f"GET {url}: HTTP {response.status}")
                body = bytearray()
                async for chunk in response.content.iter_chunked(1 << 16):
                    body += chunk
                    if len(body) > _MAX_DOCUMENT_BYTES:
                        raise _FetchError(f"GET {url}: document larger than 1 MiB")
        except TimeoutError:
            raise _FetchError(f"GET {url}: no answer within {self._timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise _FetchError(f"GET {url}: {type(exc).__name__}: {exc}") from None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _FetchError(f"GET {url}: not JSON") from None
        if not isinstance(document, dict):
            raise _FetchError(f"GET {url}: not a JSON object")
        return document

    def _select(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        """The one signing key of the JWKS for ``kid`` and ``alg``; a token without kid is
        accepted only when a single key fits its algorithm."""
        if (kid, alg) in self._parsed:
            return self._parsed[kid, alg]  # only keys of the JWKS: made-up kids never stay
        candidates = [
            jwk
            for jwk in self._jwks or ()
            if (kid is None or jwk.get("kid") == kid) and _fits(jwk, alg)
        ]
        key: jwt.PyJWK | None = None
        if len(candidates) == 1:
            try:
                key = jwt.PyJWK(candidates[0], algorithm=alg)
            except jwt.PyJWTError as exc:
                _log.warning("unusable key %r in the JWKS of %s: %s", kid, self._issuer, exc)
            else:
                self._parsed[kid, alg] = key
        return key


def _fits(jwk: dict[str, Any], alg: str) -> bool:
    """A verification key (RFC 7517 sections 4.2-4.4) of the key type ``alg`` needs."""
    kty, crv = _KEY_TYPE[alg]
    if jwk.get("use", "sig") != "sig":
        return False
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return False
    if jwk.get("alg", alg) != alg or jwk.get("kty") != kty:
        return False
    if kty == "OKP":
        return jwk.get("crv") in ("Ed25519", "Ed448")
    return crv is None or jwk.get("crv") == crv
