"""``/auth/token``: the token endpoint of the Docker token flow (GET) and its OAuth2 form (POST).

GET (Docker, skopeo, podman): ``?service=&scope=...`` with Basic credentials, or none for an
anonymous token. POST (containerd and other OAuth2 clients): a form-urlencoded body with
``grant_type=password``, ``username``, ``password``, ``scope`` and ``service``. The token grants,
for each requested scope, the requested actions the caller actually has; scopes the caller has
nothing of are left out, so asking for more never yields more.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from drift.auth.authenticator import Authenticator
from drift.auth.challenge import Challenge
from drift.auth.credentials import (
    BasicCredentials,
    MalformedCredentialsError,
    parse_authorization,
)
from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import ANONYMOUS, Identity
from drift.auth.policy import Policy, expand_actions
from drift.auth.registry_tokens import TokenIssuer
from drift.auth.scopes import ScopeError, parse_scopes
from drift.core.dispatch import json_response
from drift.core.grants import Access
from drift.core.http import Request, Response
from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["TokenHandlers"]

_FORM_LIMIT = 64 * 1024


def _bad_request(message: str) -> RegistryError:
    return RegistryError(ErrorCode.UNSUPPORTED, message, status=400)


class TokenHandlers:
    def __init__(
        self,
        authenticator: Authenticator,
        policy: Policy,
        issuer: TokenIssuer,
        service: str,
        challenge: Challenge,
    ) -> None:
        self._authenticator = authenticator
        self._policy = policy
        self._issuer = issuer
        self._service = service
        self._challenge = challenge

    async def get(self, req: Request) -> Response:
        identity = await self._identify(req)
        return self._respond(
            identity, req.query.getall("service", []), req.query.getall("scope", [])
        )

    async def post(self, req: Request) -> Response:
        form = await self._form(req)
        grant_type = form.get("grant_type", [""])[0]
        if grant_type != "password":
            raise _bad_request(
                f"unsupported grant_type {grant_type!r}: this endpoint issues tokens for "
                "grant_type=password (or GET with Basic credentials)"
            )
        username = form.get("username", [""])[0]
        password = form.get("password", [""])[0]
        identity = await self._login(req, username, password)
        scopes = form.get("scope", [])
        return self._respond(identity, form.get("service", []), scopes)

    async def _form(self, req: Request) -> dict[str, list[str]]:
        content_type = req.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise _bad_request("expected an application/x-www-form-urlencoded body")
        body = bytearray()
        while chunk := await req.body.read(_FORM_LIMIT):
            body += chunk
            if len(body) > _FORM_LIMIT:
                raise _bad_request("token request body too large")
        try:
            return parse_qs(body.decode("utf-8"), strict_parsing=False)
        except UnicodeDecodeError:
            raise _bad_request("token request body is not UTF-8") from None

    async def _identify(self, req: Request) -> Identity:
        try:
            credentials = parse_authorization(req.headers.get("Authorization"))
        except MalformedCredentialsError as bad:
            raise self._challenge.unauthorized(req, (), str(bad)) from None
        if credentials is None:
            return ANONYMOUS
        if not isinstance(credentials, BasicCredentials):
            raise self._challenge.unauthorized(
                req, (), "the token endpoint takes Basic credentials"
            )
        return await self._login(req, credentials.username, credentials.password)

    async def _login(self, req: Request, username: str, password: str) -> Identity:
        try:
            return await self._authenticator.login(username, password, req.remote)
        except InvalidCredentialsError:
            raise self._challenge.unauthorized(req, (), "invalid user name or password") from None

    def _respond(self, identity: Identity, services: list[str], scopes: list[str]) -> Response:
        unknown = [service for service in services if service != self._service]
        if unknown:
            raise _bad_request(
                f"unknown service {unknown[0]!r}; this registry is {self._service!r}"
            )
        try:
            requested = parse_scopes(scopes)
        except ScopeError as bad:
            raise _bad_request(str(bad)) from None
        narrowed = (self._grantable(identity, access) for access in requested)
        granted = [access for access in narrowed if access is not None]
        issued = self._issuer.issue(identity, granted)
        document = {
            "token": issued.token,
            "access_token": issued.token,
            "expires_in": issued.expires_in,
            "issued_at": issued.issued_at,
        }
        return json_response(200, document, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _grantable(self, identity: Identity, access: Access) -> Access | None:
        """``access`` narrowed to what ``identity`` has (None when nothing is left)."""
        if access.type == "registry":
            return access if self._policy.may_list(identity) else None
        held = self._policy.actions(identity, access.name)
        wanted = held if "*" in access.actions else expand_actions(access.actions)
        actions = wanted & held
        return Access(access.type, access.name, actions) if actions else None
