"""A real OpenID provider (panva/oidc-provider run by node) on loopback, and real ID tokens from it.

``start_oidc_provider(tmp_path)`` runs ``tests/support/oidc_provider/provider.mjs`` in its own
process group with freshly generated signing keys (RSA, EC P-256, Ed25519) and the clients asked
for. ``provider.id_token("alice", claims={"groups": ["dev"]})`` drives the authorization-code
flow with PKCE through the provider's real endpoints (authorization endpoint, login form of the
interaction, resumed authorization, token endpoint) and returns the ``id_token`` it issues.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.cookiejar
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tests.support.lifecycle import ClosesOnExit
from tests.support.servers import free_port
from tests.support.tools import require_tool

__all__ = [
    "DEFAULT_CLAIMS",
    "OidcClient",
    "RunningOidcProvider",
    "generate_signing_keys",
    "start_oidc_provider",
]

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LOG_TAIL_BYTES = 4000
# Claims a test may set on a subject (released with scope "workload", carried in the ID token).
DEFAULT_CLAIMS = ("groups", "roles", "repository", "email", "team")
# Never contacted: the code is read from the Location header of the authorization response.
REDIRECT_URI = "http://127.0.0.1:9/callback"


@dataclass(frozen=True, slots=True)
class OidcClient:
    client_id: str
    client_secret: str = "secret"
    id_token_ttl: int = 600
    id_token_alg: str = "RS256"  # RS256, PS256, ES256 or EdDSA


def generate_signing_keys() -> list[dict[str, Any]]:
    """Private JWKs (with fresh kids) of an RSA, an EC P-256 and an Ed25519 signing key."""
    tag = secrets.token_hex(4)
    keys = [
        (f"rsa-{tag}", RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048), as_dict=True)),
        (f"ec-{tag}", ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)),
        (f"ed-{tag}", OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate(), as_dict=True)),
    ]
    # pyjwt marks exported private keys key_ops ["sign"], which oidc-provider would publish
    # as is on the public keys: a verifier rightly refuses those for verification.
    return [{**_without(jwk, "key_ops"), "kid": kid, "use": "sig"} for kid, jwk in keys]


def _without(jwk: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in jwk.items() if key != name}


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """Hands 3xx responses back to the caller: the flow reads each Location itself."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        return fp

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


@dataclass
class RunningOidcProvider(ClosesOnExit):
    issuer: str
    port: int
    directory: Path
    clients: tuple[OidcClient, ...]
    keys: list[dict[str, Any]]
    claims: tuple[str, ...]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.directory / "provider.log"

    @property
    def client_id(self) -> str:
        """The first client: the one Drift is configured with in most tests."""
        return self.clients[0].client_id

    def id_token(
        self, subject: str, *, client_id: str | None = None, claims: dict[str, Any] | None = None
    ) -> str:
        """A genuine ID token for ``subject`` (with ``claims`` among ``self.claims``) issued to
        ``client_id`` (default: the first client) by the running provider."""
        client = self._client(client_id or self.client_id)
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _KeepRedirects(),
        )
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        query = urllib.parse.urlencode(
            {
                "client_id": client.client_id,
                "response_type": "code",
                "scope": "openid workload",
                "redirect_uri": REDIRECT_URI,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
        )
        interaction = self._redirect(opener, f"{self.issuer}/auth?{query}")
        with opener.open(interaction, timeout=10) as page:  # the login form
            assert page.status == 200, page.status
        form = {"login": subject, "claims": json.dumps(claims or {})}
        resume = self._redirect(opener, f"{interaction}/login", form)
        callback = urllib.parse.urlsplit(self._redirect(opener, resume))
        params = urllib.parse.parse_qs(callback.query)
        if "code" not in params:
            raise RuntimeError(f"authorization failed: {params}; log:\n{self.log_tail()}")
        assert params["state"] == [state]
        token = self._post_json(
            opener,
            f"{self.issuer}/token",
            {
                "grant_type": "authorization_code",
                "code": params["code"][0],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )
        return str(token["id_token"])

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set the provider publishes (fetched through discovery, as a verifier does)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.issuer}/.well-known/openid-configuration", timeout=10) as r:
            jwks_uri = json.load(r)["jwks_uri"]
        with opener.open(jwks_uri, timeout=10) as response:
            return dict(json.load(response))

    def start(self) -> None:
        node = require_tool("node")
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            pytest.fail(
                "oidc-provider is not installed: run scripts/install-test-deps", pytrace=False
            )
        config = self.directory / "provider.json"
        config.write_text(
            json.dumps(
                {
                    "issuer": self.issuer,
                    "port": self.port,
                    "clients": [
                        {
                            "client_id": c.client_id,
                            "client_secret": c.client_secret,
                            "redirect_uri": REDIRECT_URI,
                            "id_token_ttl": c.id_token_ttl,
                            "id_token_alg": c.id_token_alg,
                        }
                        for c in self.clients
                    ],
                    "claims": list(self.claims),
                    "jwks": {"keys": self.keys},
                    "cookie_key": secrets.token_hex(16),
                }
            )
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [node, str(PROVIDER_DIR / "provider.mjs"), str(config)],
                cwd=PROVIDER_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def restart(self, *, rotate_keys: bool = False) -> None:
        """Stop and start again on the same port; ``rotate_keys`` replaces every signing key
        (new kids), as a provider rotating its keys does."""
        self.stop()
        if rotate_keys:
            self.keys = generate_signing_keys()
        self.start()

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL whatever is left after 10 s."""
        self._signal_group(signal.SIGTERM)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT)
        self.kill()

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def close(self) -> None:
        self.stop()

    def log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, self.log_path.stat().st_size - LOG_TAIL_BYTES))
                return log.read().decode(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"

    def _client(self, client_id: str) -> OidcClient:
        for client in self.clients:
            if client.client_id == client_id:
                return client
        raise KeyError(f"no client {client_id!r} on this provider")

    def _redirect(
        self, opener: urllib.request.OpenerDirector, url: str, form: dict[str, str] | None = None
    ) -> str:
        """The absolute Location of the 303 that ``url`` must answer with."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with opener.open(url, data=data, timeout=10) as response:
            location = response.headers.get("Location")
            if response.status not in (302, 303) or not location:
                body = response.read(2000).decode(errors="replace")
                raise RuntimeError(f"{url}: HTTP {response.status} without redirect: {body}")
            return urllib.parse.urljoin(url, str(location))

    def _post_json(
        self, opener: urllib.request.OpenerDirector, url: str, form: dict[str, str]
    ) -> dict[str, Any]:
        try:
            with opener.open(url, data=urllib.parse.urlencode(form).encode(), timeout=10) as r:
                return dict(json.load(r))
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{url}: HTTP {exc.code}: {exc.read(2000)!r}") from None

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    def _wait_ready(self) -> None:
        assert self.process is not None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        url = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"oidc-provider exited with status {self.process.returncode}; log tail:\n"
                    f"{self.log_tail()}"
                )
            with contextlib.suppress(OSError), opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"oidc-provider did not answer {url} within {READY_TIMEOUT:.0f} s")


def start_oidc_provider(
    tmp_path: Path,
    *,
    clients: Sequence[OidcClient] = (OidcClient("drift"),),
    port: int | None = None,
    keys: list[dict[str, Any]] | None = None,
    claims: Sequence[str] = DEFAULT_CLAIMS,
) -> RunningOidcProvider:
    """An oidc-provider on 127.0.0.1 (issuer ``http://127.0.0.1:<port>``) with these clients;
    ``keys`` (private JWKs) lets two providers share signing keys."""
    port = port or free_port()
    directory = tmp_path / f"oidc-provider-{port}"
    directory.mkdir(parents=True, exist_ok=True)
    provider = RunningOidcProvider(
        issuer=f"http://127.0.0.1:{port}",
        port=port,
        directory=directory,
        clients=tuple(clients),
        keys=keys if keys is not None else generate_signing_keys(),
        claims=tuple(claims),
    )
    provider.start()
    return provider
