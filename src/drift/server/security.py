"""Wiring of the auth mode: the access controller and, unless tokens come from elsewhere, the
token endpoint. ``none`` is anonymous read-write (explicit opt-in, warned about at start-up)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from drift.api.token import TokenHandlers
from drift.auth.authenticator import Authenticator, SecretVerifier
from drift.auth.challenge import BasicChallenge, BearerChallenge, Challenge
from drift.auth.controller import PolicyAccessController
from drift.auth.external_keys import JwksKeys, external_keys
from drift.auth.oidc import OidcVerifier, looks_like_jwt
from drift.auth.policy import Policy
from drift.auth.ratelimit import LoginLimiter
from drift.auth.registry_tokens import StaticKey, TokenIssuer, TokenVerifier
from drift.auth.robots import RobotVerifier, looks_like_robot_token
from drift.auth.signing_key import load_signing_key
from drift.auth.store import AdminStore
from drift.auth.users import UserDirectory
from drift.config.settings import AuthMode, Settings
from drift.core.access import AccessController, AllowAll
from drift.events.model import EventSink
from drift.storage.executor import run_blocking

__all__ = ["Security", "build_security"]


@dataclass(slots=True)
class Security:
    access: AccessController
    tokens: TokenHandlers | None = None  # the /auth/token endpoint, when Drift issues tokens
    store: AdminStore | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def check_database(self) -> None:
        """A readiness check: the admin database answers (raises with a message otherwise)."""
        if self.store is None:
            return
        try:
            await run_blocking(self.store.count_users)
        except (OSError, sqlite3.Error) as exc:
            raise RuntimeError(f"admin database unavailable: {exc}") from exc

    async def close(self) -> None:
        for close in self.closers:
            await close()
        if self.store is not None:
            self.store.close()


def build_security(settings: Settings, events: EventSink) -> Security:
    if settings.auth.mode is AuthMode.NONE:
        return Security(AllowAll())
    store = AdminStore.for_settings(settings)
    verifiers = [SecretVerifier(looks_like_robot_token, RobotVerifier(store).verify)]
    closers: list[Callable[[], Awaitable[None]]] = []
    if settings.oidc.issuer:
        oidc = OidcVerifier(settings.oidc)
        verifiers.append(SecretVerifier(looks_like_jwt, oidc.verify))
        closers.append(oidc.close)
    limiter = LoginLimiter(settings.auth.login_failures, settings.auth.login_window_seconds)
    authenticator = Authenticator(
        UserDirectory(settings.basic.users, store),
        verifiers=tuple(verifiers),
        limiter=limiter,
        events=events,
    )
    policy = Policy(settings.rbac, settings.auth)
    token = settings.token
    challenge: Challenge
    if settings.auth.mode is AuthMode.TOKEN:
        challenge = BearerChallenge(token.realm, token.service)
    else:
        challenge = BasicChallenge(settings.basic.realm)
    handlers = None
    if token.external:
        keys = external_keys(token)
        if isinstance(keys, JwksKeys):
            closers.append(keys.close)
        verifier = TokenVerifier(token, keys, own=False)
    else:
        key = load_signing_key(token.signing_key, Path(settings.storage.fs_root))
        verifier = TokenVerifier(
            token, StaticKey(key.public_key, frozenset({key.algorithm})), own=True
        )
        issuer = TokenIssuer(key, token)
        # The token endpoint itself takes Basic credentials, whatever the API's challenge is.
        login = BasicChallenge(settings.basic.realm)
        handlers = TokenHandlers(authenticator, policy, issuer, token.service, login)
    access = PolicyAccessController(authenticator, verifier, policy, challenge)
    return Security(access, handlers, store, closers)
