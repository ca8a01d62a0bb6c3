"""Basic-auth access control of the registry API, black-box over HTTP against ``drift serve``.

Two servers for the module: ``closed`` (no anonymous access at all) and ``open`` (anonymous pull
of ``public/*``). Users: alice is an admin (``[rbac] admins``), bob may push ``ghost/*`` and
pull ``shared/*``, carol may pull and delete ``ghost/*``. alice seeds the content first; each
test then acts as the caller it is about. At the end, no reply was a 5xx and neither a reply nor
the server log or the audit trail ever showed a password.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import pytest

from tests.support.auth import Callers, auth_env, basic, challenge_params
from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import Reply, with_query
from tests.support.registry import OCTETS, PushedImage, RegistryApi, assert_error, next_link
from tests.support.servers import RunningRegistry, start_drift

PASSWORDS: Final = {
    "alice": "alice-Pa55-7cb1e0",
    "bob": "bob-Pa55-93d2aa",
    "carol": "carol-Pa55-4e08f3",
}
WRONG_PASSWORD: Final = "wrong-Pa55-51c7de"  # tried on purpose: must never show either
POLICIES: Final[list[dict[str, object]]] = [
    {"subjects": ["user:bob"], "repositories": ["ghost/*"], "actions": ["push"]},
    {"subjects": ["user:bob"], "repositories": ["shared/*"], "actions": ["pull"]},
    {"subjects": ["user:carol"], "repositories": ["ghost/*"], "actions": ["pull", "delete"]},
]
BASIC_CHALLENGE: Final = 'Basic realm="Drift Registry", charset="UTF-8"'
SEEDED: Final = ("ghost/app", "shared/base", "secret/vault", "public/hello")


def site_env(**extra: str) -> dict[str, str]:
    return auth_env(
        "basic",
        PASSWORDS,
        admins="user:alice",
        policies=POLICIES,
        DRIFT_AUTH_LOGIN_FAILURES="1000",  # the many bad logins here must not lock anyone out
        DRIFT_LOG="debug",  # the leak check reads every line the server can write
        **extra,
    )


@dataclass
class Site:
    server: RunningRegistry
    callers: Callers = field(repr=False)
    images: dict[str, PushedImage] = field(repr=False)

    def api(self, user: str | None, password: str | None = None) -> RegistryApi:
        if user is None:
            return self.callers.api()
        return self.callers.api(basic(user, PASSWORDS[user] if password is None else password))


def start_site(root_factory: pytest.TempPathFactory, **extra: str) -> Iterator[Site]:
    with (
        start_drift(root_factory.mktemp("auth-api") / "data", env=site_env(**extra)) as server,
        Callers(server.url) as callers,
    ):
        admin = callers.api(basic("alice", PASSWORDS["alice"]))
        images = {repo: admin.push_image(repo, "latest", layer_size=512) for repo in SEEDED}
        yield Site(server, callers, images)
        callers.assert_clean(server, [*PASSWORDS.values(), WRONG_PASSWORD], PASSWORDS)


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from start_site(tmp_path_factory)


@pytest.fixture(scope="module")
def open_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from start_site(tmp_path_factory, DRIFT_AUTH_ANONYMOUS_PULL="public/*")


def assert_challenged(reply: Reply) -> None:
    assert_error(reply, 401, "UNAUTHORIZED")
    assert reply.header("WWW-Authenticate") == BASIC_CHALLENGE, str(reply)


def assert_denied(reply: Reply) -> None:
    assert_error(reply, 403, "DENIED")
    assert reply.header("WWW-Authenticate") is None, str(reply)


def probes(image: PushedImage) -> list[tuple[str, str]]:
    """One request of every kind the API has, against the repository of ``image``."""
    repo, layer = image.repo, next(iter(image.blobs))
    return [
        ("GET", f"/v2/{repo}/manifests/latest"),
        ("HEAD", f"/v2/{repo}/manifests/{image.digest}"),
        ("GET", f"/v2/{repo}/blobs/{layer}"),
        ("HEAD", f"/v2/{repo}/blobs/{layer}"),
        ("GET", f"/v2/{repo}/tags/list"),
        ("POST", f"/v2/{repo}/blobs/uploads/"),
        ("PUT", f"/v2/{repo}/manifests/next"),
        ("DELETE", f"/v2/{repo}/manifests/{image.digest}"),
        ("DELETE", f"/v2/{repo}/blobs/{layer}"),
        ("GET", f"/v2/{repo}/referrers/{image.digest}"),
    ]


def same_answer(first: Reply, second: Reply) -> bool:
    """Equal status, body and headers but for the per-request ones."""

    def shown(reply: Reply) -> tuple[object, ...]:
        headers = sorted((k.lower(), v) for k, v in reply.headers if k.lower() != "x-request-id")
        return reply.status, reply.body, [(k, v) for k, v in headers if k != "date"]

    return shown(first) == shown(second)


def test_anonymous_is_challenged_everywhere(closed: Site) -> None:
    anonymous = closed.api(None).http
    for target in ("/v2/", "/v2/_catalog", "/v2/_catalog?n=1"):
        assert_challenged(anonymous.get(target))
    image = closed.images["secret/vault"]
    for method, target in probes(image):
        reply = anonymous.request(method, target, body=b"{}" if method == "PUT" else None)
        assert_challenged(reply)
        # a repository that does not exist gets the very same answer: no existence oracle
        other = anonymous.request(
            method,
            target.replace(image.repo, "secret/nothing-here"),
            body=b"{}" if method == "PUT" else None,
        )
        assert same_answer(reply, other), f"{reply}\n---\n{other}"


def test_anonymous_pull_only_where_configured(open_site: Site) -> None:
    anonymous = open_site.api(None)
    public = open_site.images["public/hello"]
    anonymous.assert_pullable(public)
    # skopeo and podman send "Basic Og==" (no user, no password) when they have no credentials
    empty = open_site.callers.api(basic("", ""))
    empty.assert_pullable(public)
    assert_challenged(empty.http.get("/v2/secret/vault/manifests/latest"))
    layer = next(iter(public.blobs))
    for method, target in probes(public):
        if method in ("GET", "HEAD"):
            continue  # reading is what anonymous_pull allows
        assert_challenged(anonymous.http.request(method, target))
    for method, target in probes(open_site.images["secret/vault"]):
        assert_challenged(anonymous.http.request(method, target))
    assert_challenged(anonymous.http.get("/v2/"))
    catalog = anonymous.http.get("/v2/_catalog")
    assert catalog.status == 200, str(catalog)
    assert catalog.json()["repositories"] == ["public/hello"]
    # the upload of a blob with a digest already stored is refused as well (no mount, no leak)
    reply = anonymous.http.post(
        with_query(f"/v2/{public.repo}/blobs/uploads/", mount=layer, **{"from": public.repo})
    )
    assert_challenged(reply)


def test_users_pull_and_push_per_policy(closed: Site) -> None:
    bob = closed.api("bob")
    bob.assert_pullable(closed.images["shared/base"])
    bob.assert_pullable(closed.images["ghost/app"])  # push implies pull
    pushed = bob.push_image("ghost/bobs", "v1", layer_size=256)
    bob.assert_pullable(pushed)
    closed.api("alice").assert_pullable(pushed)
    for repo in ("shared/base", "secret/vault", "public/hello"):
        assert_denied(bob.http.post(f"/v2/{repo}/blobs/uploads/"))
    for method, target in probes(closed.images["secret/vault"]):
        assert_denied(bob.http.request(method, target, body=b"{}" if method == "PUT" else None))

    carol = closed.api("carol")
    carol.assert_pullable(closed.images["ghost/app"])
    assert_denied(carol.http.post("/v2/ghost/app/blobs/uploads/"))
    assert_denied(
        carol.http.get(f"/v2/shared/base/manifests/{closed.images['shared/base'].digest}")
    )

    alice = closed.api("alice")
    for image in closed.images.values():
        alice.assert_pullable(image)


def test_authenticated_but_not_allowed_is_403_while_bad_credentials_are_401(closed: Site) -> None:
    target = "/v2/secret/vault/manifests/latest"
    assert_denied(closed.api("bob").http.get(target))
    assert_challenged(closed.api("bob", WRONG_PASSWORD).http.get(target))
    assert_challenged(closed.api("mallory", WRONG_PASSWORD).http.get(target))
    assert_challenged(closed.api("bob", "").http.get(target))
    # the version check answers any authenticated caller, and no one else
    assert closed.api("bob").http.get("/v2/").status == 200
    assert_challenged(closed.api("bob", WRONG_PASSWORD).http.get("/v2/"))


def catalog_of(api: RegistryApi, page_size: int | None = None) -> list[str]:
    """Every repository of the catalog, following ``Link`` pages when ``page_size`` is given."""
    target: str | None = "/v2/_catalog" if page_size is None else f"/v2/_catalog?n={page_size}"
    names: list[str] = []
    while target is not None:
        reply = api.http.get(target)
        assert reply.status == 200, str(reply)
        names += reply.json()["repositories"]
        target = next_link(reply)
    return names


def test_catalog_is_filtered_per_caller(closed: Site) -> None:
    everything = catalog_of(closed.api("alice"))
    assert set(SEEDED) <= set(everything)
    bobs = catalog_of(closed.api("bob"))
    assert bobs == sorted(name for name in everything if name.startswith(("ghost/", "shared/")))
    assert catalog_of(closed.api("bob"), page_size=1) == bobs  # pages hold only his too
    assert catalog_of(closed.api("carol")) == [n for n in everything if n.startswith("ghost/")]


def mount(api: RegistryApi, repo: str, digest: str, source: str) -> Reply:
    return api.http.post(with_query(f"/v2/{repo}/blobs/uploads/", mount=digest, **{"from": source}))


def test_mount_needs_pull_on_the_source(closed: Site) -> None:
    bob, alice = closed.api("bob"), closed.api("alice")
    secret_layer = next(iter(closed.images["secret/vault"].blobs))
    unknown = digest_of(random_bytes(64, "never stored"))

    refused = mount(bob, "ghost/mounted", secret_layer, "secret/vault")
    assert refused.status in (202, 403), str(refused)
    if refused.status == 403:
        assert_denied(refused)
    # the answer is the same whether the blob exists in the source or not
    assert same_answer(refused, mount(bob, "ghost/mounted", unknown, "secret/vault"))
    assert bob.http.head(f"/v2/ghost/mounted/blobs/{secret_layer}").status == 404
    assert alice.http.head(f"/v2/ghost/mounted/blobs/{secret_layer}").status == 404

    shared_layer = next(iter(closed.images["shared/base"].blobs))
    allowed = mount(bob, "ghost/mounted", shared_layer, "shared/base")
    assert allowed.status == 201, str(allowed)
    assert bob.http.head(f"/v2/ghost/mounted/blobs/{shared_layer}").status == 200
    # pull on the target is not push: carol mounts nothing into ghost/*
    assert_denied(mount(closed.api("carol"), "ghost/other", shared_layer, "ghost/mounted"))
    # a source that "ghost/*" would match only as a path: refused, and nothing mounted
    for source in ("ghost/../secret/vault", "ghost/%2e%2e/secret/vault", "ghost//secret/vault"):
        sneaky = mount(bob, "ghost/sneaky", secret_layer, source)
        assert sneaky.status in (202, 400, 403), str(sneaky)
    assert alice.http.head(f"/v2/ghost/sneaky/blobs/{secret_layer}").status == 404


def test_an_upload_session_stays_in_its_repository(closed: Site) -> None:
    alice, bob = closed.api("alice"), closed.api("bob")
    data = random_bytes(300, "alice's secret upload")
    location = alice.start_upload("secret/vault")
    assert alice.http.patch(location, body=data, headers=OCTETS).status == 202
    hijacked = location.replace("/v2/secret/vault/", "/v2/ghost/hijack/")
    assert hijacked != location
    assert bob.http.get(hijacked).status in (400, 404), "bob sees alice's session"
    put = bob.http.put(with_query(hijacked, digest=digest_of(data)), headers=OCTETS)
    assert put.status in (400, 404), str(put)
    assert alice.http.head(f"/v2/ghost/hijack/blobs/{digest_of(data)}").status == 404
    assert_denied(bob.http.get(location))  # and through its own URL: 403, as any secret/* URL


def test_delete_needs_delete(closed: Site) -> None:
    image = closed.api("bob").push_image("ghost/doomed", "latest", layer_size=128)
    layer = next(iter(image.blobs))
    bob, carol = closed.api("bob"), closed.api("carol")
    assert_denied(bob.http.delete(f"/v2/ghost/doomed/manifests/{image.digest}"))
    assert_denied(bob.http.delete(f"/v2/ghost/doomed/blobs/{layer}"))
    bob.assert_pullable(image)

    assert carol.http.delete(f"/v2/ghost/doomed/manifests/{image.digest}").status == 202
    assert carol.http.delete(f"/v2/ghost/doomed/blobs/{layer}").status == 202
    gone = closed.api("alice").http.get(f"/v2/ghost/doomed/manifests/{image.digest}")
    assert_error(gone, 404, "MANIFEST_UNKNOWN")
    assert_denied(
        carol.http.delete(f"/v2/shared/base/manifests/{closed.images['shared/base'].digest}")
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BAD_AUTHORIZATION: Final = [
    "Basic",
    "Basic ",
    "Basic !!!not-base64!!!",
    "Basic " + b64(b"no-colon-here"),
    "Basic " + b64(b"\xff\xfe:\x80"),  # not UTF-8
    "Basic " + b64(b":"),
    "Basic " + b64(b"bob:") + "=",  # bad padding
    "Basic " + b64(b"bob:" + PASSWORDS["bob"].encode() + b"\x00"),
    "Basic " + b64(b"bob\x00:" + PASSWORDS["bob"].encode()),
    "Basic " + b64(b"alice:" + PASSWORDS["bob"].encode()),
    "Basic " + b64("b\u00f6b:p\u00e4ss".encode()),
    "Basic " + b64(b"bob:" + b"x" * 4000),
    "Bearer",
    "Bearer ",
    "Bearer not-a-jwt",
    "Bearer a.b.c",
    "Bearer eyJhbGciOiJub25lIn0.e30.",
    "Digest username=bob",
    "Negotiate YIIB",
    "bob:" + PASSWORDS["bob"],
    "Basic\t" + b64(b"bob:x"),
]


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION, ids=range(len(BAD_AUTHORIZATION)))
def test_bad_authorization_headers_are_401(closed: Site, authorization: str) -> None:
    http = closed.callers.client(authorization)
    for target in ("/v2/", "/v2/ghost/app/manifests/latest", "/v2/_catalog"):
        assert_challenged(http.get(target))
    assert_challenged(http.post("/v2/ghost/app/blobs/uploads/"))


def test_oversized_authorization_header_is_refused_cleanly(closed: Site) -> None:
    http = closed.callers.client(basic("bob", "y" * 20_000))
    reply = http.get("/v2/ghost/app/manifests/latest")
    assert reply.status in (400, 401, 431), str(reply)


def test_a_basic_scheme_in_any_case_is_accepted(closed: Site) -> None:
    token = basic("bob", PASSWORDS["bob"]).removeprefix("Basic ")
    for scheme in ("basic", "BASIC"):
        reply = closed.callers.client(f"{scheme} {token}").get("/v2/ghost/app/manifests/latest")
        assert reply.status == 200, str(reply)


def test_challenge_names_the_realm(closed: Site) -> None:
    reply = closed.api(None).http.get("/v2/")
    scheme, params = challenge_params(reply.header("WWW-Authenticate"))
    assert (scheme, params) == ("Basic", {"realm": "Drift Registry", "charset": "UTF-8"})
