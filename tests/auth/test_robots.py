"""Robot tokens: created once in plaintext, stored as a hash, verified to a bounded identity."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import IdentityKind
from drift.auth.robots import (
    RobotNameTakenError,
    RobotVerifier,
    create_robot,
    looks_like_robot_token,
    robot_id,
    robot_limit,
)
from drift.auth.scopes import ScopeError
from drift.auth.store import AdminStore, InvalidNameError
from drift.core.access import Access


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AdminStore]:
    with AdminStore(tmp_path / "drift.db") as opened:
        yield opened


def secret_of(token: str) -> str:
    return token[len("drift_") + 17 :]  # the secret itself may hold "_"


def stored_anywhere(directory: Path, secret: str) -> bool:
    return any(secret.encode() in file.read_bytes() for file in directory.iterdir())


async def refusal(verifier: RobotVerifier, token: str) -> str:
    with pytest.raises(InvalidCredentialsError) as raised:
        await verifier.verify(token)
    message = str(raised.value)
    assert token not in message
    assert secret_of(token) not in message  # nor the secret part
    return message


async def test_create_and_verify(store: AdminStore, tmp_path: Path) -> None:
    record, token = create_robot(
        store, "ci", ["repository:team/app:push", "registry:catalog:*"], 3600, "driftctl:ops"
    )
    assert looks_like_robot_token(token)
    assert token.startswith(f"drift_{record.id}_")
    assert robot_id(token) == record.id
    assert len(secret_of(token)) >= 43  # 32 random bytes
    assert record.scopes == ("repository:team/app:pull,push", "registry:catalog:*")
    assert record.expires_at == record.created_at + 3600
    assert record.created_by == "driftctl:ops"
    assert store.get_robot(record.id) == record
    assert not stored_anywhere(tmp_path, secret_of(token))

    identity = await RobotVerifier(store).verify(token)
    assert identity.kind is IdentityKind.ROBOT
    assert identity.name == "ci"
    assert identity.subject == "robot:ci"
    assert not identity.admin
    assert identity.limit == (
        Access("repository", "team/app", frozenset({"pull", "push"})),
        Access("registry", "catalog", frozenset({"*"})),
    )


async def test_tokens_are_unique(store: AdminStore) -> None:
    tokens = {create_robot(store, None, ["repository:a:pull"], None, "t")[1] for _ in range(20)}
    assert len(tokens) == 20
    assert all(record.name == f"token-{record.id}" for record in store.list_robots())


async def test_wrong_secret(store: AdminStore) -> None:
    _, token = create_robot(store, "ci", ["repository:a:pull"], None, "t")
    last = token[-1]
    forged = token[:-1] + ("A" if last != "A" else "B")
    assert "wrong secret" in await refusal(RobotVerifier(store), forged)


async def test_unknown_id(store: AdminStore) -> None:
    _, token = create_robot(store, "ci", ["repository:a:pull"], None, "t")
    other = "drift_" + "0" * 16 + "_" + secret_of(token)
    assert "unknown robot token" in await refusal(RobotVerifier(store), other)


@pytest.mark.parametrize("text", ["", "drift_", "hunter2", "drift_XYZ_abc", "Bearer drift_x_y"])
async def test_not_a_token(store: AdminStore, text: str) -> None:
    assert not looks_like_robot_token(text)
    with pytest.raises(InvalidCredentialsError, match="not a robot token"):
        await RobotVerifier(store).verify(text)


async def test_expired(store: AdminStore) -> None:
    _, token = create_robot(store, "old", ["repository:a:pull"], 60, "t", now=time.time() - 61)
    assert "expired" in await refusal(RobotVerifier(store), token)
    _, fresh = create_robot(store, "new", ["repository:a:pull"], 60, "t", now=time.time() - 30)
    assert (await RobotVerifier(store).verify(fresh)).name == "new"


async def test_revoked(store: AdminStore) -> None:
    record, token = create_robot(store, "ci", ["repository:a:pull"], None, "t")
    verifier = RobotVerifier(store)
    await verifier.verify(token)
    assert store.revoke_robot(record.id)
    assert "revoked" in await refusal(verifier, token)


def test_scopes_are_validated(store: AdminStore) -> None:
    for bad in (["repository:UPPER/case:pull"], ["repository:a:fly"], ["bogus"], ["x:y:pull"]):
        with pytest.raises(ScopeError):
            create_robot(store, "ci", bad, None, "t")
    with pytest.raises(ValueError, match="at least one scope"):
        create_robot(store, "ci", [], None, "t")
    assert store.list_robots() == []


def test_other_refusals(store: AdminStore) -> None:
    with pytest.raises(ValueError, match="positive lifetime"):
        create_robot(store, "ci", ["repository:a:pull"], 0, "t")
    with pytest.raises(InvalidNameError):
        create_robot(store, "c i", ["repository:a:pull"], None, "t")
    create_robot(store, "ci", ["repository:a:pull"], None, "t")
    with pytest.raises(RobotNameTakenError, match="'ci' exists"):
        create_robot(store, "ci", ["repository:b:pull"], None, "t")


def test_limit_merges_scopes_and_push_implies_pull() -> None:
    assert robot_limit(
        ["repository:a:push", "repository:a:delete", "repository:b:pull", "repository:c:*"]
    ) == (
        Access("repository", "a", frozenset({"pull", "push", "delete"})),
        Access("repository", "b", frozenset({"pull"})),
        Access("repository", "c", frozenset({"*"})),
    )
