"""OidcVerifier against a real OpenID provider (panva/oidc-provider under node) on loopback.

Every accepted token is a genuine ID token of the provider (authorization-code flow through its
endpoints); every forged one is derived from such a token the way an attacker would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import Identity, IdentityKind
from drift.auth.oidc import OidcVerifier, looks_like_jwt
from drift.config.settings import OidcSettings
from tests.support.oidc import OidcClient, RunningOidcProvider, start_oidc_provider

pytestmark = pytest.mark.oidc

CLIENTS = (
    OidcClient("drift"),
    OidcClient("other-app"),
    # 3 s: long enough to verify it once on a loaded machine (exp is in whole seconds)
    OidcClient("short-lived", id_token_ttl=3),
    OidcClient("drift-ps", id_token_alg="PS256"),
    OidcClient("drift-es", id_token_alg="ES256"),
    OidcClient("drift-ed", id_token_alg="EdDSA"),
)
GROUPS = {"groups": ["dev", "ops"], "team": "platform", "roles": ["pusher", 7, ""]}

VerifierFactory = Callable[..., OidcVerifier]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOidcProvider]:
    with start_oidc_provider(tmp_path_factory.mktemp("oidc"), clients=CLIENTS) as running:
        yield running


@pytest.fixture
async def make_verifier(provider: RunningOidcProvider) -> AsyncIterator[VerifierFactory]:
    """Verifiers of ``provider`` (or of ``issuer=``), closed after the test."""
    made: list[OidcVerifier] = []

    def make(
        *, issuer: str | None = None, client_id: str = "drift", **kwargs: object
    ) -> OidcVerifier:
        settings = OidcSettings(
            issuer=issuer or provider.issuer,
            client_id=client_id,
            user_claim=str(kwargs.pop("user_claim", "sub")),
            groups_claims=("groups", "team", "roles"),
        )
        verifier = OidcVerifier(settings, **kwargs)  # type: ignore[arg-type]
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.close()


async def refused(verifier: OidcVerifier, token: str) -> str:
    with pytest.raises(InvalidCredentialsError) as caught:
        await verifier.verify(token)
    message = str(caught.value)
    assert token not in message or not token
    return message


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


async def test_real_token_verifies_to_identity(
    provider: RunningOidcProvider, make_verifier: VerifierFactory
) -> None:
    token = provider.id_token("alice", claims={**GROUPS, "repository": "ghost/demo"})
    assert looks_like_jwt(token)
    identity = await make_verifier().verify(token)
    assert identity == Identity(
        IdentityKind.OIDC, "alice", frozenset({"dev", "ops", "platform", "pusher"})
    )
    assert identity.subject == "oidc:alice"


async def test_user_claim_names_the_identity(
    provider: RunningOidcProvider, make_verifier: VerifierFactory
) -> None:
    verifier = make_verifier(user_claim="repository")
    token = provider.id_token("job-42", claims={"repository": "ghost/demo"})
    assert (await verifier.verify(token)).name == "ghost/demo"
    without = provider.id_token("job-43", claims={"groups": ["dev"]})
    assert "repository" in await refused(verifier, without)


@pytest.mark.parametrize("client_id", ["drift-ps", "drift-es", "drift-ed"])
async def test_every_asymmetric_algorithm_of_the_provider_verifies(
    provider: RunningOidcProvider, make_verifier: VerifierFactory, client_id: str
) -> None:
    token = provider.id_token("bob", client_id=client_id, claims={"groups": ["dev"]})
    expected_alg = {"drift-ps": "PS256", "drift-es": "ES256", "drift-ed": "EdDSA"}[client_id]
    assert segments(token)[0]["alg"] == expected_alg
    identity = await make_verifier(client_id=client_id).verify(token)
    assert (identity.name, identity.groups) == ("bob", frozenset({"dev"}))


async def test_refuses_token_of_another_issuer(
    provider: RunningOidcProvider, make_verifier: VerifierFactory, tmp_path: Path
) -> None:
    # The second provider signs with the very same keys: only the issuer check can refuse.
    with start_oidc_provider(tmp_path, clients=CLIENTS, keys=provider.keys) as second:
        token = second.id_token("alice", claims=GROUPS)
        assert (await make_verifier(issuer=second.issuer).verify(token)).name == "alice"
        assert "issued by" in await refused(make_verifier(), token)


async def test_refuses_token_for_another_audience(
    provider: RunningOidcProvider, make_verifier: VerifierFactory
) -> None:
    token = provider.id_token("alice", client_id="other-app")
    assert (await make_verifier(client_id="other-app").verify(token)).name == "alice"
    assert "audience" in await refused(make_verifier(), token)


async def test_refuses_expired_token_even_when_cached(
    provider: RunningOidcProvider, make_verifier: VerifierFactory
) -> None:
    token = provider.id_token("alice", client_id="short-lived")
    strict = make_verifier(client_id="short-lived", leeway=0)
    lenient = make_verifier(client_id="short-lived", leeway=30)
    assert (await strict.verify(token)).name == "alice"
    exp = segments(token)[1]["exp"]
    assert isinstance(exp, int)
    await asyncio.sleep(max(0.0, exp + 0.2 - time.time()))
    assert "expired" in await refused(strict, token)
    assert (await lenient.verify(token)).name == "alice"  # within the leeway


async def test_refuses_payload_resigned_with_another_key(
    provider: RunningOidcProvider, make_verifier: VerifierFactory
) -> None:
    token = provider.id_token("alice", claims=GROUPS)
    header, payload = segments(token)
    forged_payload = {**payload, "sub": "admin", "groups": ["admins"]}
    attacker_key = rsa.generate_private_key(65537, 2048)
    forged = jwt.encode(forged_payload, attacker_key, "RS256", headers={"kid": header["kid"]})
    verifier = make_verifier()
    assert "signature" in await refused(verifier, forged)
    assert (await verifier.verify(token)).name == "alice"  # the real one still verifies


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_refuses_unsigned_token(
    provider: RunningOidcProvider, make_verifier: VerifierFactory, alg: str
) -> None:
    header, payload = segments(provider.id_token("alice"))
    unsigned = ".".join(
        (
            b64(json.dumps({"alg": alg, "kid": header["kid"]}).encode()),
            b64(json.dumps(payload).encode()),
            "",
        )
    )
    assert looks_like_jwt(unsigned)  # so a caller sends it here, not to the password check
    assert "not allowed" in await refused(make_verifier(), unsigned)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_refuses_hmac_keyed_with_the_public_key(
    provider: RunningOidcProvider, make_verifier: VerifierFactory, alg: str
) -> None:
    header, payload = segments(provider.id_token("alice"))
    jwk = next(key for key in provider.public_jwks()["keys"] if key["kid"] == header["kid"])
    public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    assert isinstance(public_key, rsa.RSAPublicKey)
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    for secret in (
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(jwk).encode(),
    ):
        signing_input = ".".join(
            (
                b64(json.dumps({"alg": alg, "kid": header["kid"]}).encode()),
                b64(json.dumps({**payload, "sub": "admin"}).encode()),
            )
        )
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        assert "not allowed" in await refused(make_verifier(), f"{signing_input}.{b64(mac)}")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hunter2",
        "a.b.c",
        "....",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        "eyJhbGciOiJSUzI1NiJ9",
        "x" * 20000,
        "é.é.é",
    ],
)
async def test_refuses_garbage(make_verifier: VerifierFactory, garbage: str) -> None:
    await refused(make_verifier(), garbage)


async def test_new_signing_key_verifies_after_rotation(
    make_verifier: VerifierFactory, tmp_path: Path
) -> None:
    with start_oidc_provider(tmp_path, clients=CLIENTS[:1]) as rotating:
        verifier = make_verifier(issuer=rotating.issuer)
        old = rotating.id_token("alice")
        assert (await verifier.verify(old)).name == "alice"
        rotating.restart(rotate_keys=True)
        new = rotating.id_token("alice", claims={"groups": ["rotated"]})
        assert segments(new)[0]["kid"] != segments(old)[0]["kid"]
        # The cached JWKS lacks the new kid: one refetch picks it up.
        assert (await verifier.verify(new)).groups == frozenset({"rotated"})
        assert "kid" in await refused(make_verifier(issuer=rotating.issuer), old)


async def test_provider_down_is_refusal_not_error(
    make_verifier: VerifierFactory, tmp_path: Path
) -> None:
    with start_oidc_provider(tmp_path, clients=CLIENTS[:1]) as doomed:
        token = doomed.id_token("alice")
    verifier = make_verifier(issuer=doomed.issuer, timeout=2.0)
    started = time.monotonic()
    assert "unreachable" in await refused(verifier, token)
    assert time.monotonic() - started < 2.0
    # Within the retry interval the next attempt fails at once, without contacting anyone.
    started = time.monotonic()
    assert "unreachable" in await refused(verifier, token)
    assert time.monotonic() - started < 0.1


async def test_silent_provider_times_out(make_verifier: VerifierFactory) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        issuer = f"http://127.0.0.1:{silent.getsockname()[1]}"
        verifier = make_verifier(issuer=issuer, timeout=1.0)
        started = time.monotonic()
        message = await refused(verifier, jwt.encode({"sub": "x"}, "k" * 32, "HS256"))
        assert "not allowed" in message  # no fetch for a token refused by its header
        forged = jwt.encode({"sub": "x"}, rsa.generate_private_key(65537, 2048), "RS256")
        assert "unreachable" in await refused(verifier, forged)
        assert time.monotonic() - started < 3.0


async def test_cached_keys_survive_a_provider_outage(
    make_verifier: VerifierFactory, tmp_path: Path
) -> None:
    with start_oidc_provider(tmp_path, clients=CLIENTS[:1]) as flaky:
        verifier = make_verifier(issuer=flaky.issuer, jwks_ttl=0.2, timeout=2.0)
        first, second = flaky.id_token("alice"), flaky.id_token("bob")
        assert (await verifier.verify(first)).name == "alice"
    await asyncio.sleep(0.3)  # the JWKS is due for a refresh, which fails: the keys stay in use
    assert (await verifier.verify(second)).name == "bob"
