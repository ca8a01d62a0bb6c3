"""Token mode trusting an external token service: tokens it signed (by its PEM public key or its
JWKS) grant exactly their ``access`` claim; Drift's own token endpoint is off."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.auth import bearer, challenge_params
from tests.support.http_client import HttpResponse, http_request
from tests.support.servers import RunningRegistry, start_drift

ISSUER = "https://auth.example"
SERVICE = "registry.example"
REALM = "https://auth.example/token"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(key: rsa.RSAPrivateKey, access: list[dict[str, Any]], **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": SERVICE, "sub": "ci", "iat": now, "exp": now + 300}
    claims.update(changes)
    claims["access"] = access
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def repo(name: str, *actions: str) -> dict[str, Any]:
    return {"type": "repository", "name": name, "actions": list(actions)}


def push_blob(registry: RunningRegistry, name: str, token: str) -> HttpResponse:
    data = f"blob of {name}".encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return http_request(
        f"{registry.url}/v2/{name}/blobs/uploads/?digest={digest}",
        method="POST",
        headers={"Authorization": bearer(token), "Content-Type": "application/octet-stream"},
        body=data,
    )


class _Jwks(BaseHTTPRequestHandler):
    document = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture(scope="module")
def jwks_key() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    key = _key()
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    _Jwks.document = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()


def _env(**keys: str) -> dict[str, str]:
    return {
        "DRIFT_AUTH": "token",
        "DRIFT_TOKEN_REALM": REALM,
        "DRIFT_TOKEN_ISSUER": ISSUER,
        "DRIFT_TOKEN_SERVICE": SERVICE,
        **keys,
    }


def _assert_trusts_only(registry: RunningRegistry, key: rsa.RSAPrivateKey) -> None:
    challenge = http_request(f"{registry.url}/v2/ghost/demo/tags/list")
    assert challenge.status == 401
    scheme, params = challenge_params(challenge.headers["WWW-Authenticate"])
    assert scheme == "Bearer"
    assert params["realm"] == REALM
    assert params["service"] == SERVICE
    assert http_request(f"{registry.url}/auth/token?service={SERVICE}").status == 404
    good = sign(key, [repo("ghost/demo", "pull", "push"), repo("ghost/seen", "pull")])
    assert push_blob(registry, "ghost/demo", good).status == 201
    other = push_blob(registry, "ghost/other", good)
    assert other.status == 401
    assert 'error="insufficient_scope"' in other.headers["WWW-Authenticate"]
    catalog = sign(
        key, [repo("ghost/demo", "pull"), {"type": "registry", "name": "catalog", "actions": ["*"]}]
    )
    listed = http_request(f"{registry.url}/v2/_catalog", headers={"Authorization": bearer(catalog)})
    assert listed.json() == {"repositories": ["ghost/demo"]}
    for forged in (
        sign(_key(), [repo("ghost/demo", "pull", "push")]),
        sign(key, [repo("ghost/demo", "push")], iss="https://someone.else"),
        sign(key, [repo("ghost/demo", "push")], aud="another-registry"),
        sign(key, [repo("ghost/demo", "push")], exp=int(time.time()) - 600),
    ):
        refused = push_blob(registry, "ghost/demo", forged)
        assert refused.status == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_tokens_signed_by_the_configured_public_key(tmp_path: Path) -> None:
    key = _key()
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    env = _env(DRIFT_TOKEN_PUBLIC_KEY=str(pem))
    with start_drift(tmp_path / "data", env=env) as registry:
        _assert_trusts_only(registry, key)


def test_tokens_signed_by_a_key_of_the_jwks(
    tmp_path: Path, jwks_key: tuple[rsa.RSAPrivateKey, str]
) -> None:
    key, url = jwks_key
    with start_drift(tmp_path / "data", env=_env(DRIFT_TOKEN_JWKS_URL=url)) as registry:
        _assert_trusts_only(registry, key)
