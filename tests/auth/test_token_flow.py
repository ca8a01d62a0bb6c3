"""The Docker token flow of ``DRIFT_AUTH=token`` end to end over raw HTTP, and attacks on it.

The module's ``site`` server: alice is an admin, bob may push ``ghost/*`` and pull ``shared/*``,
carol (kept by ``driftctl users add``, an argon2 hash) may pull ``ghost/*``; anyone may pull
``public/*``. Forged tokens are signed in the test, some with the server's own key file: the
test holds that key legitimately, which is how it makes tokens only a key holder could (expired
ones, other audiences) to check that verification refuses them for the right reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drift.auth.signing_key import KEY_FILE
from tests.support.auth import (
    Callers,
    auth_env,
    basic,
    bearer,
    challenge_params,
    driftctl,
    jwt_parts,
    request_token,
)
from tests.support.rawhttp import HttpClient, Reply
from tests.support.registry import PushedImage, RegistryApi, assert_error
from tests.support.servers import RunningRegistry, start_drift

PASSWORDS: Final = {"alice": "alice-Tok-0a61", "bob": "bob-Tok-77e2"}
CAROL: Final = ("carol", "carol-Tok-5d3c")  # stored by driftctl: an argon2 hash
POLICIES: Final[list[dict[str, object]]] = [
    {"subjects": ["user:bob"], "repositories": ["ghost/*"], "actions": ["push"]},
    {"subjects": ["user:bob"], "repositories": ["shared/*"], "actions": ["pull"]},
    {"subjects": ["user:carol"], "repositories": ["ghost/*"], "actions": ["pull"]},
]
SEEDED: Final = ("ghost/demo", "shared/base", "secret/vault", "public/hello")


def token_env(**extra: str) -> dict[str, str]:
    return auth_env(
        "token",
        PASSWORDS,
        admins="user:alice",
        policies=POLICIES,
        DRIFT_AUTH_ANONYMOUS_PULL="public/*",
        **extra,
    )


@dataclass
class Site:
    server: RunningRegistry
    callers: Callers = field(repr=False)
    images: dict[str, PushedImage] = field(repr=False)
    kid: str
    secrets: list[str] = field(default_factory=list, repr=False)  # never to be shown

    @property
    def realm(self) -> str:
        return f"{self.server.url}/auth/token"

    def http(self, authorization: str | None = None) -> HttpClient:
        return self.callers.client(authorization)

    def token(self, user: str, *scopes: str, password: str | None = None) -> str:
        secret = PASSWORDS.get(user, "") if password is None else password
        reply = request_token(self.http(), *scopes, authorization=basic(user, secret))
        assert reply.status == 200, str(reply)
        token: str = reply.json()["token"]
        return token

    def as_bearer(self, user: str, *scopes: str) -> RegistryApi:
        return RegistryApi(self.http(bearer(self.token(user, *scopes))))

    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        pem = (self.server.root / ".drift" / KEY_FILE).read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("auth-token") / "data"
    root.mkdir()
    driftctl(root, "users", "add", CAROL[0], "--password-stdin", stdin=CAROL[1] + "\n")
    env = token_env(DRIFT_AUTH_LOGIN_FAILURES="1000", DRIFT_LOG="debug")
    with start_drift(root, env=env) as server, Callers(server.url) as callers:
        alice = basic("alice", PASSWORDS["alice"])
        admin = RegistryApi(callers.client(alice))  # Basic works on the API in token mode too
        images = {repo: admin.push_image(repo, "latest", layer_size=512) for repo in SEEDED}
        probe = request_token(callers.client(), authorization=alice)
        kid = jwt_parts(probe.json()["token"])[0]["kid"]
        site = Site(server, callers, images, kid, [*PASSWORDS.values(), CAROL[1]])
        yield site
        callers.assert_clean(
            server, site.secrets, [*PASSWORDS, CAROL[0], "ci", "whoever", "someone"]
        )


def assert_bearer_challenge(reply: Reply, site: Site, scope: str | None, error: str | None) -> None:
    assert_error(reply, 401, "UNAUTHORIZED")
    scheme, params = challenge_params(reply.header("WWW-Authenticate"))
    expected = {"realm": site.realm, "service": "drift"}
    if scope is not None:
        expected["scope"] = scope
    if error is not None:
        expected["error"] = error
    assert (scheme, params) == ("Bearer", expected), str(reply)


def assert_denied(reply: Reply) -> None:
    assert_error(reply, 403, "DENIED")


def granted(token: str) -> dict[str, set[str]]:
    """The ``access`` claim of a token: repository or resource name -> actions."""
    return {entry["name"]: set(entry["actions"]) for entry in jwt_parts(token)[1]["access"]}


# --- the flow --------------------------------------------------------------------------------


def test_challenges_name_the_realm_service_and_scope(site: Site) -> None:
    anonymous = site.http()
    cases = [
        ("GET", "/v2/ghost/demo/manifests/latest", "repository:ghost/demo:pull"),
        ("HEAD", "/v2/ghost/demo/blobs/sha256:" + "0" * 64, "repository:ghost/demo:pull"),
        ("POST", "/v2/ghost/demo/blobs/uploads/", "repository:ghost/demo:pull,push"),
        ("DELETE", "/v2/ghost/demo/manifests/latest", "repository:ghost/demo:delete"),
        ("GET", "/v2/secret/vault/tags/list", "repository:secret/vault:pull"),
        (
            "POST",
            "/v2/ghost/demo/blobs/uploads/?mount=sha256:" + "1" * 64 + "&from=shared/base",
            "repository:ghost/demo:pull,push repository:shared/base:pull",
        ),
    ]
    for method, target, scope in cases:
        assert_bearer_challenge(anonymous.request(method, target), site, scope, None)
    assert_bearer_challenge(anonymous.get("/v2/"), site, None, None)


def test_get_token_with_basic_and_use_it(site: Site) -> None:
    reply = request_token(
        site.http(), "repository:ghost/demo:pull", authorization=basic("bob", PASSWORDS["bob"])
    )
    assert reply.status == 200, str(reply)
    assert reply.header("Cache-Control") == "no-store"
    document = reply.json()
    assert document["access_token"] == document["token"]
    assert 60 <= document["expires_in"] <= 3600
    header, claims = jwt_parts(document["token"])
    assert (header["alg"], header["kid"]) == ("ES256", site.kid)
    assert (claims["iss"], claims["aud"], claims["sub"]) == ("drift", "drift", "bob")
    assert claims["exp"] - claims["iat"] == document["expires_in"]
    assert granted(document["token"]) == {"ghost/demo": {"pull"}}

    api = RegistryApi(site.http(bearer(document["token"])))
    api.assert_pullable(site.images["ghost/demo"])
    assert api.http.get("/v2/").status == 200
    # the token grants pull only: pushing asks for a wider token, which bob may have
    assert_bearer_challenge(
        api.http.post("/v2/ghost/demo/blobs/uploads/"),
        site,
        "repository:ghost/demo:pull,push",
        "insufficient_scope",
    )


def test_push_with_a_token_from_the_challenge(site: Site) -> None:
    anonymous = site.http()
    challenge = anonymous.post("/v2/ghost/pushed/blobs/uploads/")
    _, params = challenge_params(challenge.header("WWW-Authenticate"))
    assert params["realm"] == site.realm
    token = site.token("bob", params["scope"])
    assert granted(token) == {"ghost/pushed": {"pull", "push"}}
    api = RegistryApi(site.http(bearer(token)))
    image = api.push_image("ghost/pushed", "v1", layer_size=256)
    api.assert_pullable(image)


def test_post_form_flow(site: Site) -> None:
    form = {
        "grant_type": "password",
        "username": "bob",
        "password": PASSWORDS["bob"],
        "service": "drift",
        "scope": "repository:ghost/demo:pull repository:shared/base:pull",
        "client_id": "containerd",
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    http = site.http()
    reply = http.post("/auth/token", body=urlencode(form).encode(), headers=headers)
    assert reply.status == 200, str(reply)
    token = reply.json()["access_token"]
    assert granted(token) == {"ghost/demo": {"pull"}, "shared/base": {"pull"}}
    RegistryApi(site.http(bearer(token))).assert_pullable(site.images["shared/base"])

    wrong = http.post(
        "/auth/token",
        body=urlencode({**form, "password": "not-" + PASSWORDS["bob"]}).encode(),
        headers=headers,
    )
    assert_error(wrong, 401, "UNAUTHORIZED")
    for bad in ({**form, "grant_type": "client_credentials"}, {**form, "grant_type": ""}):
        assert_error(http.post("/auth/token", body=urlencode(bad).encode(), headers=headers), 400)
    as_json = http.post("/auth/token", body=json.dumps(form).encode(), headers={})
    assert_error(as_json, 400)


def test_anonymous_tokens_reach_only_anonymous_pull(site: Site) -> None:
    reply = request_token(
        site.http(), "repository:public/hello:pull,push", "repository:ghost/demo:pull"
    )
    assert reply.status == 200, str(reply)
    token = reply.json()["token"]
    assert granted(token) == {"public/hello": {"pull"}}
    api = RegistryApi(site.http(bearer(token)))
    api.assert_pullable(site.images["public/hello"])
    assert_bearer_challenge(
        api.http.get("/v2/ghost/demo/manifests/latest"), site, "repository:ghost/demo:pull", None
    )
    assert_bearer_challenge(
        api.http.post("/v2/public/hello/blobs/uploads/"),
        site,
        "repository:public/hello:pull,push",
        None,
    )


def test_catalog_through_tokens_is_filtered(site: Site) -> None:
    def catalog(token: str) -> list[str]:
        reply = site.http(bearer(token)).get("/v2/_catalog")
        assert reply.status == 200, str(reply)
        names: list[str] = reply.json()["repositories"]
        return names

    assert set(SEEDED) <= set(catalog(site.token("alice", "registry:catalog:*")))
    bobs = catalog(site.token("bob", "registry:catalog:*"))
    assert {"shared/base", "ghost/demo"} <= set(bobs)
    assert all(name.startswith(("ghost/", "shared/")) for name in bobs), bobs
    carols = catalog(site.token("carol", "registry:catalog:*", password=CAROL[1]))
    assert "ghost/demo" in carols
    assert all(name.startswith("ghost/") for name in carols), carols


# --- what a token grants ---------------------------------------------------------------------


def test_scope_escalation_is_narrowed(site: Site) -> None:
    token = site.token(
        "bob",
        "repository:shared/base:pull,push,delete",
        "repository:secret/vault:pull",
        "repository:ghost/demo:*",
        "repository:ghost/demo:admin",
    )
    assert granted(token) == {"shared/base": {"pull"}, "ghost/demo": {"pull", "push"}}
    api = RegistryApi(site.http(bearer(token)))
    assert_denied(api.http.post("/v2/shared/base/blobs/uploads/"))  # policy says no: 403
    assert_denied(api.http.get("/v2/secret/vault/manifests/latest"))
    assert_denied(api.http.delete(f"/v2/ghost/demo/manifests/{site.images['ghost/demo'].digest}"))


def test_token_for_one_repository_is_refused_on_another(site: Site) -> None:
    api = site.as_bearer("bob", "repository:ghost/demo:pull,push")
    other = site.images["shared/base"]
    # bob may pull there, but not with this token: ask for a new one
    assert_bearer_challenge(
        api.http.get(f"/v2/shared/base/manifests/{other.digest}"),
        site,
        "repository:shared/base:pull",
        "insufficient_scope",
    )
    assert_bearer_challenge(
        api.http.get(f"/v2/shared/base/blobs/{next(iter(other.blobs))}"),
        site,
        "repository:shared/base:pull",
        "insufficient_scope",
    )
    assert_denied(api.http.get("/v2/secret/vault/manifests/latest"))
    # a token of alice's for one repository is no key to the others either
    admin = site.as_bearer("alice", "repository:ghost/demo:pull")
    assert admin.http.get("/v2/secret/vault/manifests/latest").status == 401


# --- forged and stale tokens -----------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The signing input of a JWT: header and claims, encoded."""
    encode = json.dumps
    return f"{b64url(encode(header).encode())}.{b64url(encode(claims).encode())}"


def claims_for(name: str, actions: list[str], **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "drift",
        "sub": "alice",
        "aud": "drift",
        "exp": now + 300,
        "nbf": now - 1,
        "iat": now,
        "jti": f"forged-{now}",
        "access": [{"type": "repository", "name": name, "actions": actions}],
        "drift": {"kind": "user", "name": "alice", "groups": [], "admin": True},
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def forgeries(site: Site) -> dict[str, str]:
    claims = claims_for("secret/vault", ["pull", "push", "delete"])
    public_pem = (
        site.signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_input = compact({"alg": "HS256", "typ": "JWT", "kid": site.kid}, claims)
    forged = {
        "alg none": compact({"alg": "none", "typ": "JWT", "kid": site.kid}, claims) + ".",
        "alg None": compact({"alg": "None", "typ": "JWT", "kid": site.kid}, claims) + ".",
        "no alg": compact({"typ": "JWT", "kid": site.kid}, claims) + ".",
        "unsigned ES256": compact({"alg": "ES256", "typ": "JWT", "kid": site.kid}, claims) + ".",
    }
    for variant, secret in (("pem", public_pem), ("pem stripped", public_pem.strip())):
        mac = hmac.new(secret, hs_input.encode(), hashlib.sha256).digest()
        forged[f"HS256 keyed with the public key ({variant})"] = f"{hs_input}.{b64url(mac)}"
    other_key = ec.generate_private_key(ec.SECP256R1())
    forged["another key, same kid"] = jwt.encode(
        claims, other_key, algorithm="ES256", headers={"kid": site.kid}
    )
    real = site.signing_key()
    now = int(time.time())
    stale = {
        "expired": claims_for(
            "secret/vault", ["pull"], exp=now - 120, iat=now - 420, nbf=now - 421
        ),
        "not yet valid": claims_for("secret/vault", ["pull"], nbf=now + 600, iat=now + 600),
        "wrong audience": claims_for("secret/vault", ["pull"], aud="other-registry"),
        "wrong issuer": claims_for("secret/vault", ["pull"], iss="https://evil.example"),
        "no expiry": claims_for("secret/vault", ["pull"], exp=None),
        "no audience": claims_for("secret/vault", ["pull"], aud=None),
    }
    for reason, stale_claims in stale.items():
        forged[f"real key, {reason}"] = jwt.encode(
            stale_claims, real, algorithm="ES256", headers={"kid": site.kid}
        )
    return forged


def test_forged_and_stale_tokens_are_refused(site: Site) -> None:
    target = "/v2/secret/vault/manifests/latest"
    for reason, token in forgeries(site).items():
        reply = site.http(bearer(token)).get(target)
        assert reply.status == 401, f"{reason}:\n{reply}"
        assert_bearer_challenge(reply, site, "repository:secret/vault:pull", "invalid_token")
        assert site.images["secret/vault"].manifest not in reply.body
    # the same claims signed properly are good: the refusals were for the reasons named
    good = claims_for("secret/vault", ["pull"])
    token = jwt.encode(good, site.signing_key(), algorithm="ES256", headers={"kid": site.kid})
    assert site.http(bearer(token)).get(target).status == 200


# --- robot tokens ----------------------------------------------------------------------------


def test_robot_token_is_bounded_to_its_scope_and_dies_when_revoked(site: Site) -> None:
    root = site.server.root
    robot = driftctl(
        root,
        "tokens",
        "create",
        "--scope",
        "repository:ghost/robo:push",
        "--expires",
        "30d",
        "--name",
        "ci-robo",
    ).strip()
    assert robot.startswith("drift_")
    site.secrets.append(robot)
    listed = driftctl(root, "tokens", "list")
    assert "ci-robo" in listed
    assert robot[len("drift_") + 17 :] not in listed  # the secret part (it may hold "_")

    # as the password of any user name, directly on the API ...
    direct = RegistryApi(site.http(basic("whoever", robot)))
    image = direct.push_image("ghost/robo", "v1", layer_size=256)
    direct.assert_pullable(image)
    for target in ("/v2/ghost/demo/manifests/latest", "/v2/public/hello/manifests/latest"):
        assert_denied(direct.http.get(target))
    assert_denied(direct.http.post("/v2/ghost/other/blobs/uploads/"))
    # ... and at the token endpoint, which grants it nothing beyond its scope
    token = site.token(
        "ci", "repository:ghost/robo:push,pull,delete", "repository:ghost/demo:pull", password=robot
    )
    assert granted(token) == {"ghost/robo": {"pull", "push"}}
    via_token = RegistryApi(site.http(bearer(token)))
    via_token.assert_pullable(image)
    assert_denied(via_token.http.get("/v2/ghost/demo/manifests/latest"))
    # a narrower token of the robot's: pushing asks for a wider token (the robot may push)
    pull_only = site.token("ci", "repository:ghost/robo:pull", password=robot)
    assert_bearer_challenge(
        site.http(bearer(pull_only)).post("/v2/ghost/robo/blobs/uploads/"),
        site,
        "repository:ghost/robo:pull,push",
        "insufficient_scope",
    )

    driftctl(root, "tokens", "revoke", "ci-robo")
    assert "revoked" in driftctl(root, "tokens", "list")
    refused = request_token(
        site.http(), "repository:ghost/robo:pull", authorization=basic("ci", robot)
    )
    assert_error(refused, 401, "UNAUTHORIZED")
    for http in (direct.http, site.http(basic("someone", robot))):
        assert_bearer_challenge(
            http.get("/v2/ghost/robo/manifests/v1"), site, "repository:ghost/robo:pull", None
        )


# --- scopes and paths that try to escape -----------------------------------------------------

TRICK_SCOPES: Final = [
    "repository:ghost/../secret/vault:pull",
    "repository:ghost/%2e%2e/secret/vault:pull",
    "repository:ghost/%2E%2E/secret/vault:pull",
    "repository:ghost//demo:pull",
    "repository:GHOST/demo:pull",
    "repository:Ghost/Demo:pull",
    "repository:ghost/demo/..:pull",
    "repository:../../etc/passwd:pull",
    "repository:/ghost/demo:pull",
    "repository:ghost/demo/:pull",
    "repository:ghost/*:pull",
    "repository:*:pull",
    "repository:ghost/demo:pull:push",
    "repository:secret/vault\x00:pull",
    "repository:ghost/demo\nrepository:secret/vault:pull",
    "registry:../catalog:*",
    "registry:catalog/..:*",
    "repository:ghost/demo:pull,../push",
    "repository::pull",
    ":::",
]


@pytest.mark.parametrize("scope", TRICK_SCOPES, ids=range(len(TRICK_SCOPES)))
def test_path_tricks_in_scopes_never_grant(site: Site, scope: str) -> None:
    reply = request_token(site.http(), scope, authorization=basic("bob", PASSWORDS["bob"]))
    assert reply.status in (200, 400), str(reply)
    if reply.status == 200:
        access = granted(reply.json()["token"])
        assert set(access) <= {"ghost/demo"}, f"{scope!r} granted {access}"
        assert all(actions <= {"pull"} for actions in access.values()), access
    else:
        assert_error(reply, 400)


TRICK_PATHS: Final = [
    "/v2/ghost/../secret/vault/manifests/latest",
    "/v2/ghost/demo/../../secret/vault/manifests/latest",
    "/v2/ghost/%2e%2e/secret/vault/manifests/latest",
    "/v2/ghost/%2E%2E/secret/vault/manifests/latest",
    "/v2/ghost/demo/%2e%2e/%2e%2e/secret/vault/manifests/latest",
    "/v2/ghost%2f..%2fsecret/vault/manifests/latest",
    "/v2/ghost/..%2fsecret/vault/manifests/latest",
    "/v2/ghost//../secret/vault/manifests/latest",
    "/v2//secret/vault/manifests/latest",
    "/v2/SECRET/vault/manifests/latest",
    "/v2/Secret/Vault/manifests/latest",
    "/v2/./secret/vault/manifests/latest",
    "/v2/ghost/demo/manifests/../../../secret/vault/manifests/latest",
    "/v2/ghost/demo%00/../secret/vault/manifests/latest",
]


@pytest.mark.parametrize("target", TRICK_PATHS, ids=range(len(TRICK_PATHS)))
def test_path_tricks_in_urls_never_reach_another_repository(site: Site, target: str) -> None:
    http = site.http(bearer(site.token("bob", "repository:ghost/demo:pull,push")))
    secret = site.images["secret/vault"].manifest
    for method in ("GET", "HEAD"):
        reply = http.request(method, target)
        assert reply.status in (400, 401, 403, 404), str(reply)
        assert secret not in reply.body
    reply = http.request("PUT", target, body=secret, headers={"Content-Type": "application/json"})
    assert reply.status in (400, 401, 403, 404, 405), str(reply)


# --- login throttling and timing -------------------------------------------------------------


def timed_refusal(site: Site, user: str, password: str) -> float:
    http = site.http()
    started = time.perf_counter()
    reply = request_token(http, "repository:ghost/demo:pull", authorization=basic(user, password))
    elapsed = time.perf_counter() - started
    assert_error(reply, 401, "UNAUTHORIZED")
    return elapsed


def median_refusal_times(site: Site, known: str, rounds: int = 5) -> tuple[float, float]:
    """Median seconds to refuse a wrong password of ``known`` and of users that do not exist."""
    known_times, unknown_times = [], []
    for index in range(rounds):  # interleaved, so that load changes hit both alike
        known_times.append(timed_refusal(site, known, f"wrong-{index}"))
        unknown_times.append(timed_refusal(site, f"nobody-{index}", f"wrong-{index}"))
    return statistics.median(known_times), statistics.median(unknown_times)


def assert_alike(known: float, unknown: float) -> None:
    ratio = max(known, unknown) / max(min(known, unknown), 1e-6)
    assert ratio < 3, (
        f"refusal of a known user {known * 1000:.1f} ms, unknown {unknown * 1000:.1f} ms"
    )


def test_unknown_users_cost_what_stored_users_cost(site: Site) -> None:
    assert_alike(*median_refusal_times(site, CAROL[0]))


def test_unknown_users_cost_what_plain_text_config_users_cost(site: Site) -> None:
    assert_alike(*median_refusal_times(site, "bob"))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server that throttles after 3 failures per user (9 per address) within 5 minutes."""
    root = tmp_path_factory.mktemp("auth-throttled") / "data"
    env = token_env(DRIFT_AUTH_LOGIN_FAILURES="3", DRIFT_AUTH_LOGIN_WINDOW="5m")
    with start_drift(root, env=env, workers=1) as server, Callers(server.url) as callers:
        yield Site(server, callers, {}, "")
        callers.assert_clean(server, PASSWORDS.values(), PASSWORDS)


def assert_throttled(reply: Reply) -> None:
    assert_error(reply, 429, "TOOMANYREQUESTS")
    retry_after = reply.header("Retry-After")
    assert retry_after is not None, str(reply)
    assert retry_after.isdigit(), str(reply)
    assert 1 <= int(retry_after) <= 300, str(reply)


def test_brute_force_is_throttled_even_for_the_right_password(guarded: Site) -> None:
    bob = basic("bob", PASSWORDS["bob"])
    scope = "repository:ghost/demo:pull"
    http = guarded.http()
    assert request_token(http, scope, authorization=bob).status == 200  # bob was here a moment ago
    for attempt in range(3):
        wrong = request_token(http, scope, authorization=basic("bob", f"guess-{attempt}"))
        assert_error(wrong, 401, "UNAUTHORIZED")
    assert_throttled(request_token(http, scope, authorization=basic("bob", "guess-3")))
    assert_throttled(request_token(http, scope, authorization=bob))
    assert_throttled(guarded.http(bob).get("/v2/ghost/demo/manifests/latest"))
    # another user is not locked out by bob's failures ...
    alice = basic("alice", PASSWORDS["alice"])
    assert request_token(http, scope, authorization=alice).status == 200
    # ... until the address itself has failed 9 times
    for index in range(6):
        wrong = request_token(http, scope, authorization=basic(f"user-{index}", "guess"))
        assert_error(wrong, 401, "UNAUTHORIZED")
    assert_throttled(request_token(http, scope, authorization=basic("alice", "guess")))
    assert_throttled(request_token(http, scope, authorization=alice))
    # anonymous requests need no login and are not throttled
    assert request_token(http, "repository:public/hello:pull").status == 200


def test_tokens_of_one_worker_are_good_on_every_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Every worker signs and verifies with the one key of the data directory."""
    root = tmp_path_factory.mktemp("auth-workers") / "data"
    with start_drift(root, env=token_env(), workers=2) as server, Callers(server.url) as callers:
        bob = basic("bob", PASSWORDS["bob"])
        kids: set[str] = set()
        served_by: set[str] = set()
        for _ in range(24):  # fresh connections, spread over the workers by SO_REUSEPORT
            reply = request_token(callers.client(), "repository:ghost/demo:pull", authorization=bob)
            assert reply.status == 200, str(reply)
            token = reply.json()["token"]
            kids.add(jwt_parts(token)[0]["kid"])
            used = callers.client(bearer(token)).get("/v2/ghost/demo/tags/list")
            assert_error(used, 404, "NAME_UNKNOWN")  # authorized: the repository is just empty
            served_by.add(str(used.header("X-Request-Id")).partition("-")[0])  # per process
        assert len(kids) == 1
        assert len(served_by) == 2, "every request reached the same worker"
        callers.assert_clean(server, PASSWORDS.values(), PASSWORDS)
