"""Workload identity end to end: a real OpenID provider's ID token logs in to a running Drift,
as the password of Basic auth (``oidc`` mode) and at the token endpoint (``token`` mode)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth import basic_headers
from tests.support.http_client import HttpResponse, http_request
from tests.support.oidc import OidcClient, RunningOidcProvider, start_oidc_provider
from tests.support.servers import RunningRegistry, start_drift

pytestmark = pytest.mark.oidc

POLICIES = json.dumps(
    [{"subjects": ["group:ghost/demo"], "repositories": ["ghost/demo"], "actions": ["push"]}]
)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOidcProvider]:
    clients = (OidcClient("drift"), OidcClient("other-audience"))
    with start_oidc_provider(tmp_path_factory.mktemp("idp"), clients=clients) as running:
        yield running


def _drift(root: Path, provider: RunningOidcProvider, mode: str) -> RunningRegistry:
    return start_drift(
        root,
        env={
            "DRIFT_AUTH": mode,
            "DRIFT_OIDC_ISSUER": provider.issuer,
            "DRIFT_OIDC_CLIENT_ID": "drift",
            "DRIFT_OIDC_GROUPS_CLAIMS": "groups,repository",
            "DRIFT_RBAC_POLICIES": POLICIES,
            "DRIFT_LOG": "info",
        },
    )


def push_blob(registry: RunningRegistry, repo: str, headers: dict[str, str]) -> HttpResponse:
    data = f"layer of {repo}".encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return http_request(
        f"{registry.url}/v2/{repo}/blobs/uploads/?digest={digest}",
        method="POST",
        headers={**headers, "Content-Type": "application/octet-stream"},
        body=data,
    )


def test_id_token_as_basic_password(tmp_path: Path, provider: RunningOidcProvider) -> None:
    token = provider.id_token("workload-1", client_id="drift", claims={"repository": "ghost/demo"})
    with _drift(tmp_path / "data", provider, "oidc") as registry:
        assert (
            http_request(f"{registry.url}/v2/", headers=basic_headers("oidc", token)).status == 200
        )
        assert push_blob(registry, "ghost/demo", basic_headers("oidc", token)).status == 201
        denied = push_blob(registry, "ghost/other", basic_headers("oidc", token))
        assert denied.status == 403
        assert denied.json()["errors"][0]["code"] == "DENIED"
        stranger = provider.id_token("workload-2", client_id="drift", claims={"repository": "x/y"})
        assert push_blob(registry, "ghost/demo", basic_headers("oidc", stranger)).status == 403
        foreign = provider.id_token("workload-1", client_id="other-audience")
        refused = http_request(f"{registry.url}/v2/", headers=basic_headers("oidc", foreign))
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic ")
    log = registry.log_path.read_text() + (registry.root / ".drift" / "audit.jsonl").read_text()
    assert token not in log
    assert foreign not in log
    audit = [json.loads(line) for line in (registry.root / ".drift" / "audit.jsonl").open()]
    logins = {(line["kind"], line["actor"]) for line in audit if line["kind"].startswith("login")}
    assert ("login.success", "oidc:workload-1") in logins
    assert any(kind == "login.failure" for kind, _ in logins)


def test_id_token_at_the_token_endpoint(tmp_path: Path, provider: RunningOidcProvider) -> None:
    token = provider.id_token("workload-1", client_id="drift", claims={"repository": "ghost/demo"})
    with _drift(tmp_path / "data", provider, "token") as registry:
        challenge = http_request(f"{registry.url}/v2/ghost/demo/tags/list")
        assert challenge.status == 401
        assert 'scope="repository:ghost/demo:pull"' in challenge.headers["WWW-Authenticate"]
        scope = "repository:ghost/demo:pull,push repository:ghost/other:pull,push"
        reply = http_request(
            f"{registry.url}/auth/token?service=drift&scope={scope.replace(' ', '&scope=')}",
            headers=basic_headers("ci", token),
        )
        assert reply.status == 200
        bearer = reply.json()["token"]
        claims = json.loads(base64.urlsafe_b64decode(bearer.split(".")[1] + "=="))
        assert claims["sub"] == "oidc:workload-1"
        assert claims["access"] == [
            {"type": "repository", "name": "ghost/demo", "actions": ["pull", "push"]}
        ]
        headers = {"Authorization": f"Bearer {bearer}"}
        assert push_blob(registry, "ghost/demo", headers).status == 201
        assert push_blob(registry, "ghost/other", headers).status == 403
