"""OidcVerifier on claims and key sets a real provider never produces (future nbf, missing exp,
audience lists, duplicate keys...): a minimal issuer whose keys the test holds serves discovery
and JWKS over real HTTP on loopback, and counts what the verifier fetches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import IdentityKind
from drift.auth.oidc import OidcVerifier, looks_like_jwt
from drift.auth.oidc_keys import OidcKeys
from drift.config.settings import OidcSettings

AUDIENCE = "drift"


@dataclass(frozen=True)
class FromNow:
    """A time claim relative to when the test runs (not to when the tests were collected)."""

    seconds: int

    @staticmethod
    def resolve(value: object) -> object:
        return int(time.time()) + value.seconds if isinstance(value, FromNow) else value


@dataclass
class StaticIssuer:
    """Discovery at /.well-known/openid-configuration, JWKS at /jwks; ``issuer`` is set once the
    server listens. ``jwks_fetches`` counts GET /jwks."""

    keys: dict[str, Any] = field(default_factory=dict)  # kid -> private key
    issuer: str = ""
    discovery_issuer: str | None = None  # what discovery claims; None: the real issuer
    jwks_fetches: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        return app

    def add_key(self, kid: str, key: Any) -> None:
        self.keys[kid] = key

    def sign(
        self, claims: dict[str, Any], *, kid: str = "rsa", alg: str = "RS256", **overrides: Any
    ) -> str:
        now = int(time.time())
        base = {"iss": self.issuer, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
        payload = {k: v for k, v in {**base, **claims, **overrides}.items() if v is not None}
        return jwt.encode(payload, self.keys[kid], alg, headers={"kid": kid})

    async def _discovery(self, request: web.Request) -> web.Response:
        issuer = self.discovery_issuer if self.discovery_issuer is not None else self.issuer
        return web.json_response({"issuer": issuer, "jwks_uri": f"{self.issuer}/jwks"})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        keys = []
        for kid, key in self.keys.items():
            algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
            keys.append({**algorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid})
        return web.json_response({"keys": [_public(k) for k in keys]})


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k != "key_ops"}


Verifier = Callable[..., Awaitable[OidcVerifier]]


@pytest.fixture
async def issuer() -> AsyncIterator[StaticIssuer]:
    static = StaticIssuer()
    static.add_key("rsa", rsa.generate_private_key(65537, 2048))
    static.add_key("ec", ec.generate_private_key(ec.SECP256R1()))
    server = TestServer(static.app(), host="127.0.0.1")
    await server.start_server()
    static.issuer = str(server.make_url("")).rstrip("/")
    yield static
    await server.close()


@pytest.fixture
async def make_verifier(issuer: StaticIssuer) -> AsyncIterator[Verifier]:
    made: list[OidcVerifier] = []

    async def make(**kwargs: Any) -> OidcVerifier:
        settings = OidcSettings(
            issuer=kwargs.pop("issuer", issuer.issuer),
            client_id=AUDIENCE,
            user_claim=kwargs.pop("user_claim", "sub"),
            groups_claims=kwargs.pop("groups_claims", ("groups",)),
        )
        verifier = OidcVerifier(settings, **kwargs)
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.close()


async def refused(verifier: OidcVerifier, token: str) -> str:
    with pytest.raises(InvalidCredentialsError) as caught:
        await verifier.verify(token)
    assert token not in str(caught.value)
    return str(caught.value)


async def test_baseline_token_verifies(issuer: StaticIssuer, make_verifier: Verifier) -> None:
    identity = await (await make_verifier()).verify(issuer.sign({}))
    assert (identity.kind, identity.name, identity.groups) == (
        IdentityKind.OIDC,
        "alice",
        frozenset(),
    )
    ec_token = issuer.sign({"sub": "bob"}, kid="ec", alg="ES256")
    assert (await (await make_verifier()).verify(ec_token)).name == "bob"


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
async def test_refuses_token_missing_a_required_claim(
    issuer: StaticIssuer, make_verifier: Verifier, claim: str
) -> None:
    message = await refused(await make_verifier(), issuer.sign({claim: None}))
    assert claim in message


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"nbf": FromNow(120)}, "not valid yet"),
        ({"iat": FromNow(120)}, "not valid yet"),
        ({"exp": FromNow(-120)}, "expired"),
        ({"aud": "registry"}, "audience"),
        ({"aud": ["registry", "other"]}, "audience"),
        ({"iss": "ISSUER"}, "issued by"),
        ({"exp": "tomorrow"}, "invalid"),
    ],
)
async def test_refuses_invalid_claims(
    issuer: StaticIssuer, make_verifier: Verifier, claims: dict[str, Any], reason: str
) -> None:
    if claims.get("iss") == "ISSUER":
        claims = {"iss": issuer.issuer + "/"}  # not equal: no normalisation of the issuer
    claims = {key: FromNow.resolve(value) for key, value in claims.items()}
    assert reason in await refused(await make_verifier(), issuer.sign(claims))


async def test_leeway_absorbs_small_clock_skew(
    issuer: StaticIssuer, make_verifier: Verifier
) -> None:
    now = int(time.time())
    skewed = issuer.sign({"nbf": now + 10, "iat": now + 10, "exp": now - 10 + 1})
    assert (await (await make_verifier(leeway=30)).verify(skewed)).name == "alice"
    assert await refused(await make_verifier(leeway=0), skewed)


async def test_audience_list_containing_drift_is_accepted(
    issuer: StaticIssuer, make_verifier: Verifier
) -> None:
    token = issuer.sign({"aud": ["registry", AUDIENCE]})
    assert (await (await make_verifier()).verify(token)).name == "alice"


async def test_groups_from_strings_and_lists_of_several_claims(
    issuer: StaticIssuer, make_verifier: Verifier
) -> None:
    verifier = await make_verifier(
        user_claim="email", groups_claims=("groups", "team", "roles", "absent", "numbers")
    )
    token = issuer.sign(
        {
            "email": "alice@example.org",
            "groups": ["dev", "ops", 3, None, ""],
            "team": "platform",
            "roles": {"not": "a list"},
            "numbers": 12,
        }
    )
    identity = await verifier.verify(token)
    assert identity.name == "alice@example.org"
    assert identity.groups == frozenset({"dev", "ops", "platform"})
    assert "email" in await refused(verifier, issuer.sign({}))
    assert "email" in await refused(verifier, issuer.sign({"email": 42}))


async def test_algorithm_must_match_the_key(issuer: StaticIssuer, make_verifier: Verifier) -> None:
    # An RSA key named by an ES256 header (and the other way round) finds no key.
    rsa_as_ec = jwt.encode(
        {"iss": issuer.issuer, "aud": AUDIENCE, "sub": "x", "iat": 1, "exp": 2**40},
        issuer.keys["ec"],
        "ES256",
        headers={"kid": "rsa"},
    )
    assert "no ES256 key" in await refused(await make_verifier(), rsa_as_ec)


async def test_unknown_kid_refetches_at_most_once_per_interval(
    issuer: StaticIssuer, make_verifier: Verifier
) -> None:
    verifier = await make_verifier(refetch_interval=30)
    await verifier.verify(issuer.sign({}))
    assert issuer.jwks_fetches == 1
    issuer.add_key("rotated", rsa.generate_private_key(65537, 2048))
    assert (await verifier.verify(issuer.sign({"sub": "bob"}, kid="rotated"))).name == "bob"
    assert issuer.jwks_fetches == 2  # the unknown kid forced one refetch
    # Keys published only now: had the verifier refetched, these tokens would verify.
    for attempt in range(5):
        stranger = rsa.generate_private_key(65537, 2048)
        issuer.keys[f"made-up-{attempt}"] = stranger
        await refused(verifier, issuer.sign({}, kid=f"made-up-{attempt}"))
    assert issuer.jwks_fetches == 2  # ... and no more within the interval


async def test_discovery_naming_another_issuer_is_refused(
    issuer: StaticIssuer, make_verifier: Verifier
) -> None:
    issuer.discovery_issuer = "https://evil.example"
    message = await refused(await make_verifier(), issuer.sign({}))
    assert "unreachable" in message
    assert "evil.example" in message
    assert issuer.jwks_fetches == 0


async def test_verified_identity_is_cached_until_exp_and_bounded(
    issuer: StaticIssuer, make_verifier: Verifier
) -> None:
    verifier = await make_verifier(cache_size=2)
    tokens = [issuer.sign({"sub": f"user{i}"}) for i in range(3)]
    first = await verifier.verify(tokens[0])
    assert await verifier.verify(tokens[0]) is first  # served from the cache
    await verifier.verify(tokens[1])
    await verifier.verify(tokens[2])  # evicts the oldest entry
    again = await verifier.verify(tokens[0])
    assert again == first
    assert again is not first


async def test_looks_like_jwt(issuer: StaticIssuer) -> None:
    assert looks_like_jwt(issuer.sign({}))
    assert looks_like_jwt("eyJhbGciOiJub25lIn0.e30.")  # {"alg":"none"}.{}. (refused later)
    for text in ("hunter2", "a.b.c", "eyJ0eXAiOiJKV1QifQ.e30.c2ln", "eyJhbGciOiJSUzI1NiJ9..x"):
        assert not looks_like_jwt(text), text
    assert not looks_like_jwt("correct.horse.battery")
    assert not looks_like_jwt("pass:word.with.dots")


async def test_concurrent_first_requests_share_one_fetch(
    issuer: StaticIssuer, make_verifier: Verifier
) -> None:
    verifier = await make_verifier()
    tokens = [issuer.sign({"sub": f"user{i}"}) for i in range(20)]
    identities = await asyncio.gather(*(verifier.verify(token) for token in tokens))
    assert [identity.name for identity in identities] == [f"user{i}" for i in range(20)]
    assert issuer.jwks_fetches == 1


async def test_configured_jwks_uri_skips_discovery(issuer: StaticIssuer) -> None:
    issuer.discovery_issuer = "https://evil.example"  # never read
    keys = OidcKeys("drift", jwks_uri=f"{issuer.issuer}/jwks")
    try:
        key = await keys.key_for("rsa", "PS256")
        assert key.algorithm_name == "PS256"
        assert issuer.jwks_fetches == 1
    finally:
        await keys.close()
    gone = OidcKeys("drift", jwks_uri=f"{issuer.issuer}/missing", timeout=1.0)
    try:
        with pytest.raises(InvalidCredentialsError, match=r"JWKS unreachable: .*HTTP 404"):
            await gone.key_for("rsa", "RS256")
    finally:
        await gone.close()
