"""Logging in: a user name and a secret (password, robot token or OIDC ID token) to an identity.

The same check serves ``docker login`` against the API (Basic credentials on every request) and
the token endpoint. Which verifier runs depends on the secret's shape: a robot token has its own
prefix, a JWT is an OIDC ID token when an OIDC issuer is configured, anything else is a password.
Failed attempts are throttled per user and address (remembered credentials too) and recorded in
the audit trail; successful password checks are remembered for ``_REMEMBER_SECONDS`` under a keyed
hash of the credentials (never the credentials themselves), so a client sending Basic credentials
with every request pays for a password hash once a minute, not per request. Robot tokens and OIDC
ID tokens are checked every time: a revoked or expired one is refused at once. A success is
audited once per credential and minute, not on every request that carries it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import Identity, IdentityKind
from drift.auth.ratelimit import LoginLimiter
from drift.events.model import NULL_SINK, EventKind, EventSink, RegistryEvent, Result
from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["Authenticator", "PasswordVerifier", "SecretVerifier"]

_log = logging.getLogger(__name__)
_REMEMBER_SECONDS: Final = 60.0
# Password hashes are made to be slow and memory-hard (argon2id: 64 MiB each): a burst of logins
# checks at most this many at once per process, the rest wait their turn.
_CONCURRENT_HASHES: Final = 2
_CACHE_LIMIT: Final = 4096


class PasswordVerifier(Protocol):
    async def authenticate(self, name: str, password: str) -> Identity: ...


@dataclass(frozen=True, slots=True)
class SecretVerifier:
    """A verifier of secrets that name their holder themselves (robot tokens, OIDC ID tokens).

    ``accepts`` tells by the secret's shape alone, cheaply, whether ``verify`` is the one to ask.
    """

    accepts: Callable[[str], bool]
    verify: Callable[[str], Awaitable[Identity]]


class Authenticator:
    def __init__(
        self,
        users: PasswordVerifier,
        *,
        verifiers: tuple[SecretVerifier, ...],
        limiter: LoginLimiter,
        events: EventSink = NULL_SINK,
    ) -> None:
        self._users = users
        self._verifiers = verifiers
        self._limiter = limiter
        self._events = events
        self._key = os.urandom(32)
        self._remembered: dict[bytes, tuple[Identity, float]] = {}
        self._hashing = asyncio.Semaphore(_CONCURRENT_HASHES)

    async def login(self, username: str, secret: str, addr: str | None) -> Identity:
        """The identity of these credentials; raises ``InvalidCredentialsError`` or a 429."""
        # Throttling comes first: a remembered success must not answer a guess during a lockout.
        retry_after = self._limiter.retry_after(username or None, addr)
        if retry_after is not None:
            await self._record(EventKind.LOGIN_FAILURE, username, "throttled: too many failures")
            raise RegistryError(
                ErrorCode.TOOMANYREQUESTS,
                f"too many failed logins; try again in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        key = hmac.new(self._key, f"{username}\0{secret}".encode(), hashlib.sha256).digest()
        remembered = self._remembered.get(key)
        now = time.monotonic()
        recent = remembered is not None and remembered[1] > now
        if recent and remembered is not None and remembered[0].kind is IdentityKind.USER:
            return remembered[0]
        try:
            identity = await self._verify(username, secret)
        except InvalidCredentialsError as failure:
            self._limiter.failed(username or None, addr)
            _log.info("login failed for %r from %s: %s", username, addr, failure)
            await self._record(EventKind.LOGIN_FAILURE, username, str(failure))
            raise
        self._limiter.succeeded(username or None)
        if not recent:  # one audit line per credential and minute, not one per request
            await self._record(EventKind.LOGIN_SUCCESS, identity.subject or username, None)
            if len(self._remembered) >= _CACHE_LIMIT:
                self._remembered.clear()
            self._remembered[key] = (identity, now + _REMEMBER_SECONDS)
        return identity

    async def _verify(self, username: str, secret: str) -> Identity:
        for verifier in self._verifiers:
            if verifier.accepts(secret):
                return await verifier.verify(secret)
        if not username:
            raise InvalidCredentialsError("empty user name")
        async with self._hashing:
            return await self._users.authenticate(username, secret)

    async def _record(self, kind: EventKind, actor: str, detail: str | None) -> None:
        result = Result.SUCCESS if kind is EventKind.LOGIN_SUCCESS else Result.FAILURE
        await self._events.emit(
            RegistryEvent(kind, actor=actor or "(no user name)", result=result, detail=detail)
        )
