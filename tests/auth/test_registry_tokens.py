"""Issuing and verifying the registry's bearer tokens (no server: the JWT layer alone)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import ANONYMOUS, Identity, IdentityKind
from drift.auth.registry_tokens import StaticKey, TokenIssuer, TokenVerifier
from drift.auth.signing_key import SigningKey, load_signing_key
from drift.config.settings import TokenSettings
from drift.core.grants import Access

SETTINGS = TokenSettings(service="registry.test", issuer="drift-test", expiry_seconds=300)
ALICE = Identity(IdentityKind.USER, "alice", frozenset({"devs"}))
DEMO = Access("repository", "ghost/demo", frozenset({"pull", "push"}))


@dataclass(frozen=True)
class Parts:
    issuer: TokenIssuer
    verifier: TokenVerifier
    key: SigningKey


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    key = load_signing_key(None, tmp_path)
    trusted = StaticKey(key.public_key, frozenset({key.algorithm}))
    return Parts(TokenIssuer(key, SETTINGS), TokenVerifier(SETTINGS, trusted, own=True), key)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_round_trip_carries_identity_and_access(parts: Parts) -> None:
    issuer, verifier = parts.issuer, parts.verifier
    verified = await verifier.verify(issuer.issue(ALICE, [DEMO]).token)
    assert verified.identity == ALICE
    assert verified.grants(Access("repository", "ghost/demo", frozenset({"push"})))
    assert not verified.grants(Access("repository", "ghost/demo", frozenset({"delete"})))
    assert not verified.grants(Access("repository", "ghost/other", frozenset({"pull"})))
    anonymous = await verifier.verify(issuer.issue(ANONYMOUS, []).token)
    assert anonymous.identity == ANONYMOUS
    assert anonymous.accesses == ()


def test_the_key_is_generated_once_and_shared(tmp_path: Path) -> None:
    first, second = load_signing_key(None, tmp_path), load_signing_key(None, tmp_path)
    assert first.kid == second.kid
    assert first.algorithm == "ES256"
    assert (tmp_path / ".drift" / "token-signing-key.pem").stat().st_mode & 0o777 == 0o600


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": SETTINGS.issuer,
        "sub": "alice",
        "aud": SETTINGS.service,
        "exp": now + 60,
        "iat": now,
        "access": [{"type": "repository", "name": "ghost/demo", "actions": ["pull"]}],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": -120},  # seconds from now, resolved when the test runs
        {"nbf": 120},
        {"iss": "someone-else"},
        {"aud": "another-service"},
        {"exp": None},
        {"iat": None},
    ],
)
async def test_claims_are_checked(parts: Parts, changes: dict[str, object]) -> None:
    now = int(time.time())
    resolved = {
        key: now + value if key in ("exp", "nbf") and isinstance(value, int) else value
        for key, value in changes.items()
    }
    token = jwt.encode(_claims(**resolved), parts.key.private_key, algorithm="ES256")
    with pytest.raises(InvalidCredentialsError):
        await parts.verifier.verify(token)


async def test_only_the_keys_algorithm_is_accepted(parts: Parts) -> None:
    verifier, key = parts.verifier, parts.key
    public_pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = jwt.encode(_claims(), key=None, algorithm="none")
    with pytest.raises(InvalidCredentialsError):
        await verifier.verify(unsigned)
    # HMAC keyed with the public key (the classic confusion attack), built by hand because
    # pyjwt itself refuses to use a PEM key as an HMAC secret.
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps(_claims()).encode())
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidCredentialsError):
        await verifier.verify(f"{signing_input}.{b64(mac)}")
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidCredentialsError):
        await verifier.verify(jwt.encode(_claims(), stranger, algorithm="ES256"))
    with pytest.raises(InvalidCredentialsError):
        await verifier.verify("not-a-jwt")
