"""Black-box helpers for Drift's auth modes: credentials on every request, the token endpoint,
``driftctl``, and Drift serving HTTPS.

``AuthorizedClient`` is the raw ``HttpClient`` (targets sent verbatim) with an ``Authorization``
header added to every request that sets none, so that ``RegistryApi`` works as any caller.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from drift.events.audit import audit_path
from tests.support.lifecycle import ClosesOnExit
from tests.support.rawhttp import Body, HeaderList, HttpClient, Reply, with_query
from tests.support.registry import RegistryApi
from tests.support.servers import RunningRegistry

__all__ = [
    "AuthorizedClient",
    "Callers",
    "auth_env",
    "basic",
    "basic_headers",
    "bearer",
    "challenge_params",
    "driftctl",
    "jwt_parts",
    "request_token",
]

_PARAM: Final = re.compile(r'\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_DRIFTCTL_TIMEOUT: Final = 60


def auth_env(
    mode: str,
    users: Mapping[str, str],
    *,
    admins: str,
    policies: list[dict[str, object]],
    **extra: str,
) -> dict[str, str]:
    """The environment of a Drift with these users (plain-text passwords), admins and rules."""
    return {
        "DRIFT_AUTH": mode,
        "DRIFT_USERS": ",".join(f"{name}:{password}" for name, password in users.items()),
        "DRIFT_RBAC_ADMINS": admins,
        "DRIFT_RBAC_POLICIES": json.dumps(policies),
        **extra,
    }


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def basic_headers(user: str, password: str) -> dict[str, str]:
    return {"Authorization": basic(user, password)}


def bearer(token: str) -> str:
    return f"Bearer {token}"


class AuthorizedClient(HttpClient):
    """An ``HttpClient`` sending ``authorization`` (None: nothing) unless a request sets one."""

    def __init__(
        self,
        base_url: str,
        authorization: str | None,
        *,
        on_reply: Callable[[Reply], None] | None = None,
    ) -> None:
        super().__init__(base_url, on_reply=on_reply)
        self.authorization = authorization

    def request(
        self,
        method: str,
        target: str,
        *,
        body: Body = None,
        headers: HeaderList = (),
        content_length: int | None = None,
    ) -> Reply:
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        if self.authorization is not None and all(
            name.lower() != "authorization" for name, _ in pairs
        ):
            pairs.append(("Authorization", self.authorization))
        return super().request(
            method, target, body=body, headers=pairs, content_length=content_length
        )


class Callers(ClosesOnExit):
    """Connections to one server as different callers; every reply they got is kept, so that a
    module can check at its end that none was a 5xx or showed a secret."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.replies: list[Reply] = []
        self._clients: list[AuthorizedClient] = []

    def client(self, authorization: str | None = None) -> AuthorizedClient:
        http = AuthorizedClient(self.base_url, authorization, on_reply=self.replies.append)
        self._clients.append(http)
        return http

    def api(self, authorization: str | None = None) -> RegistryApi:
        return RegistryApi(self.client(authorization))

    def assert_clean(
        self, server: RunningRegistry, secrets: Iterable[str], users: Iterable[str]
    ) -> None:
        """``server`` is alive, answered no 5xx, and showed none of ``secrets`` (nor the Basic
        credentials of ``users`` carrying one) in a reply, its log or its audit trail."""
        assert server.process.poll() is None, f"server died:\n{server.log_tail()}"
        errors = [reply for reply in self.replies if reply.status >= 500]
        assert not errors, "server errors:\n" + "\n".join(map(str, errors))
        plain = list(secrets)
        encoded = [basic(user, secret).removeprefix("Basic ") for user in users for secret in plain]
        written = server.log_path.read_bytes() + audit_path(server.root).read_bytes()
        for needle in (secret.encode() for secret in (*plain, *encoded)):
            assert needle not in written, f"the log or audit trail shows {needle!r}"
            for reply in self.replies:
                shown = reply.body + "".join(f"{k}: {v}\n" for k, v in reply.headers).encode()
                assert needle not in shown, f"a reply shows {needle!r}:\n{reply}"

    def close(self) -> None:
        for http in self._clients:
            http.close()
        self._clients.clear()


def challenge_params(header: str | None) -> tuple[str, dict[str, str]]:
    """The scheme and the auth-params of one ``WWW-Authenticate`` challenge (RFC 9110 11.6.1)."""
    assert header, "no WWW-Authenticate header"
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        matched = _PARAM.match(rest, position)
        assert matched, f"malformed challenge {header!r}"
        params[matched.group(1)] = re.sub(r"\\(.)", r"\1", matched.group(2))
        position = matched.end()
    return scheme, params


def request_token(
    http: HttpClient, *scopes: str, authorization: str | None = None, service: str = "drift"
) -> Reply:
    """``GET /auth/token`` for ``scopes`` (the Docker token flow), with these credentials."""
    target = with_query("/auth/token", service=service, scope=list(scopes))
    headers = {} if authorization is None else {"Authorization": authorization}
    return http.get(target, headers=headers)


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JOSE header and the claims of a compact JWT, unverified."""
    header, claims, _ = token.split(".")
    return _b64json(header), _b64json(claims)


def _b64json(part: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return document


def driftctl(root: Path, *args: str, stdin: str | None = None) -> str:
    """Run ``driftctl`` on the data directory ``root``; its stdout (fails the test on an error)."""
    script = Path(sys.executable).with_name("driftctl")
    env = {**os.environ, "DRIFT_FS_ROOT": str(root)}
    result = subprocess.run(
        [str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=_DRIFTCTL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"driftctl {' '.join(args)}: {result.stderr}"
    return result.stdout
