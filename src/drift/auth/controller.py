"""The ``AccessController`` of the auth modes: authenticate the request, then apply the policy.

Credentials come as Basic (a password, robot token or OIDC ID token; checked by the
``Authenticator``) or as a Bearer token from the token flow, or not at all (anonymous). Missing
or bad credentials get a 401 with the mode's challenge; an authenticated caller without the access
gets 403 ``DENIED``. A Bearer token grants only the scopes written in it: when the policy would
allow more, the answer is a 401 ``insufficient_scope`` challenge (the client fetches a wider token,
as the Docker token flow expects); when the policy would not, 403.
"""

from __future__ import annotations

from collections.abc import Callable

from drift.auth.authenticator import Authenticator
from drift.auth.challenge import Challenge
from drift.auth.credentials import (
    BasicCredentials,
    MalformedCredentialsError,
    parse_authorization,
)
from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import ANONYMOUS, Identity, IdentityKind
from drift.auth.policy import Policy
from drift.auth.registry_tokens import TokenVerifier, VerifiedToken
from drift.core.access import Needed
from drift.core.grants import Access, Grant
from drift.core.http import Request
from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["PolicyAccessController"]

_PULL = frozenset({"pull"})


class PolicyAccessController:
    def __init__(
        self,
        authenticator: Authenticator,
        tokens: TokenVerifier | None,
        policy: Policy,
        challenge: Challenge,
    ) -> None:
        self._authenticator = authenticator
        self._tokens = tokens
        self._policy = policy
        self._challenge = challenge

    async def authorize(self, req: Request, needed: Needed) -> Grant:
        identity, token = await self._identify(req, needed)
        if not needed and identity.kind is IdentityKind.ANONYMOUS:
            raise self._challenge.unauthorized(req, needed, "authentication required")
        missing = [access for access in needed if not self._allowed(identity, token, access)]
        if missing:
            raise self._refusal(req, needed, identity, token, missing[0])
        return Grant(identity.subject, needed, self._readable(identity, token))

    async def _identify(
        self, req: Request, needed: Needed
    ) -> tuple[Identity, VerifiedToken | None]:
        try:
            credentials = parse_authorization(req.headers.get("Authorization"))
        except MalformedCredentialsError as bad:
            raise self._challenge.unauthorized(req, needed, str(bad), "invalid_request") from None
        if credentials is None:
            return ANONYMOUS, None
        if isinstance(credentials, BasicCredentials):
            if not credentials.username and not credentials.password:
                # containers/image (skopeo, podman, buildah) answers a Basic challenge with
                # "Basic Og==" when it has no credentials: that is an anonymous request.
                return ANONYMOUS, None
            try:
                identity = await self._authenticator.login(
                    credentials.username, credentials.password, req.remote
                )
            except InvalidCredentialsError:
                raise self._challenge.unauthorized(
                    req, needed, "invalid user name or password"
                ) from None
            return identity, None
        if self._tokens is None:
            raise self._challenge.unauthorized(req, needed, "bearer tokens are not accepted")
        try:
            token = await self._tokens.verify(credentials.token)
        except InvalidCredentialsError:
            raise self._challenge.unauthorized(
                req, needed, "invalid or expired token", "invalid_token"
            ) from None
        return token.identity, token

    def _allowed(self, identity: Identity, token: VerifiedToken | None, access: Access) -> bool:
        if token is not None:
            return token.grants(access)
        return self._policy.allows(identity, access)

    def _refusal(
        self,
        req: Request,
        needed: Needed,
        identity: Identity,
        token: VerifiedToken | None,
        missing: Access,
    ) -> RegistryError:
        if identity.kind is IdentityKind.ANONYMOUS:
            return self._challenge.unauthorized(req, needed, "authentication required")
        if token is not None and (not token.own or self._policy.allows(identity, missing)):
            return self._challenge.unauthorized(
                req, needed, f"token does not grant {missing.scope()}", "insufficient_scope"
            )
        return RegistryError(
            ErrorCode.DENIED,
            f"{identity.subject} may not {'/'.join(sorted(missing.actions))} "
            f"{missing.type} {missing.name!r}",
        )

    def _readable(self, identity: Identity, token: VerifiedToken | None) -> Callable[[str], bool]:
        if token is not None and not token.own:
            return lambda name: token.grants(Access("repository", name, _PULL))
        policy = self._policy
        return lambda name: "pull" in policy.actions(identity, name)
