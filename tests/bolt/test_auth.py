"""Reading ``WWW-Authenticate`` and answering it: Basic credentials once, Bearer tokens from the
realm the challenge names, one-line errors when there is nothing (more) to try."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from drift.bolt.auth import Authorizer, Challenge, Credentials, parse_challenges
from drift.bolt.errors import PullError


def test_docker_bearer_challenge() -> None:
    value = (
        'Bearer realm="https://r.local:4433/auth/token",service="drift",'
        'scope="repository:team/app:pull,push"'
    )
    assert parse_challenges(value) == [
        Challenge(
            "bearer",
            {
                "realm": "https://r.local:4433/auth/token",
                "service": "drift",
                "scope": "repository:team/app:pull,push",
            },
        )
    ]


def test_several_challenges_tokens_and_escapes() -> None:
    value = 'Basic realm="Drift \\"main\\"", charset=UTF-8, Bearer realm=https://x/t ,error="e"'
    assert parse_challenges(value) == [
        Challenge("basic", {"realm": 'Drift "main"', "charset": "UTF-8"}),
        Challenge("bearer", {"realm": "https://x/t", "error": "e"}),
    ]
    assert parse_challenges("") == []
    assert parse_challenges('realm="orphan", Negotiate') == [Challenge("negotiate", {})]


class Realm:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], Credentials | None]] = []

    async def __call__(
        self, realm: str, query: Mapping[str, str], credentials: Credentials | None
    ) -> str:
        self.calls.append((realm, dict(query), credentials))
        return f"token-{len(self.calls)}"


async def test_basic_is_answered_once_with_the_credentials() -> None:
    alice = Credentials("alice", "s3cret")
    authorizer = Authorizer(alice, Realm())
    basic = [Challenge("basic", {"realm": "Drift"})]
    await authorizer.respond(basic, "401 UNAUTHORIZED: authentication required")
    assert authorizer.authorization == "Basic YWxpY2U6czNjcmV0"
    with pytest.raises(PullError, match="credentials of 'alice' refused"):
        await authorizer.respond(basic, "401 UNAUTHORIZED: bad credentials")


async def test_basic_without_credentials_says_how_to_give_them() -> None:
    with pytest.raises(PullError, match=r"401 X; .*--username and --password-stdin"):
        await Authorizer(None, Realm()).respond([Challenge("basic", {})], "401 X")


async def test_bearer_fetches_a_token_for_the_service_and_scope() -> None:
    realm = Realm()
    authorizer = Authorizer(Credentials("bob", "pw"), realm)
    challenge = Challenge(
        "bearer", {"realm": "https://r/token", "service": "drift", "scope": "s", "error": "x"}
    )
    await authorizer.respond([Challenge("basic", {}), challenge], "401")
    assert authorizer.authorization == "Bearer token-1"
    await authorizer.respond([challenge], "401")  # expired: a new token
    assert authorizer.authorization == "Bearer token-2"
    assert realm.calls[0] == (
        "https://r/token",
        {"service": "drift", "scope": "s"},
        Credentials("bob", "pw"),
    )


async def test_unknown_schemes_and_realmless_bearer_are_errors() -> None:
    authorizer = Authorizer(None, Realm())
    with pytest.raises(PullError, match=r"unsupported authentication scheme.*negotiate"):
        await authorizer.respond([Challenge("negotiate", {})], "401")
    with pytest.raises(PullError, match="names no realm"):
        await authorizer.respond([Challenge("bearer", {"service": "x"})], "401")
