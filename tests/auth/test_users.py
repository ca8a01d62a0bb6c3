"""Local users: config users (hash or plain) and stored users, one directory, no timing oracle."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import bcrypt
import pytest

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import IdentityKind
from drift.auth.passwords import hash_password
from drift.auth.store import AdminStore
from drift.auth.users import UserDirectory
from drift.config.settings import ConfiguredUser

CONFIGURED = (
    ConfiguredUser("plain", "plain-pw"),
    ConfiguredUser("argon", hash_password("argon-pw")),
    ConfiguredUser("crypt", bcrypt.hashpw(b"crypt-pw", bcrypt.gensalt(4)).decode()),
    ConfiguredUser("shadow", "config-pw"),
    ConfiguredUser("foreign", "$6$salt$hash"),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminStore]:
    with AdminStore(tmp_path_factory.mktemp("users") / "drift.db") as opened:
        opened.add_user("stored", hash_password("stored-pw"), admin=True)
        opened.add_user("shadow", hash_password("stored-pw"), admin=True)
        opened.add_user("normal", hash_password("normal-pw"))
        yield opened


@pytest.fixture
def directory(store: AdminStore) -> UserDirectory:
    return UserDirectory(CONFIGURED, store)


@pytest.mark.parametrize(
    ("name", "password", "admin"),
    [
        ("plain", "plain-pw", False),
        ("argon", "argon-pw", False),
        ("crypt", "crypt-pw", False),
        ("stored", "stored-pw", True),
        ("normal", "normal-pw", False),
        ("shadow", "config-pw", False),  # the config entry wins, admin flag included
    ],
)
async def test_accepted(directory: UserDirectory, name: str, password: str, admin: bool) -> None:
    identity = await directory.authenticate(name, password)
    assert identity.kind is IdentityKind.USER
    assert (identity.name, identity.admin, identity.subject) == (name, admin, name)


@pytest.mark.parametrize(
    ("name", "password", "reason"),
    [
        ("plain", "plain-PW", "wrong password"),
        ("argon", "", "wrong password"),
        ("crypt", "argon-pw", "wrong password"),
        ("stored", "normal-pw", "wrong password"),
        ("shadow", "stored-pw", "wrong password"),  # the shadowed stored password is dead
        ("foreign", "$6$salt$hash", "wrong password"),
        ("nobody", "plain-pw", "unknown user"),
        ("", "", "unknown user"),
    ],
)
async def test_refused(directory: UserDirectory, name: str, password: str, reason: str) -> None:
    with pytest.raises(InvalidCredentialsError) as raised:
        await directory.authenticate(name, password)
    assert str(raised.value) == reason


async def test_config_only_directory() -> None:
    directory = UserDirectory(CONFIGURED, None)
    assert (await directory.authenticate("plain", "plain-pw")).name == "plain"
    with pytest.raises(InvalidCredentialsError, match="unknown user"):
        await directory.authenticate("stored", "stored-pw")


def test_plaintext_config_users_are_named(directory: UserDirectory) -> None:
    assert directory.plaintext_config_users() == ["plain", "shadow"]
    assert directory.unsupported_config_users() == ["foreign"]


async def _median(directory: UserDirectory, name: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with pytest.raises(InvalidCredentialsError):
            await directory.authenticate(name, "not-the-password")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def test_an_unknown_user_is_refused_as_slowly_as_a_known_one(
    directory: UserDirectory,
) -> None:
    await _median(directory, "nobody", runs=1)  # the dummy hash is made on first use
    known = await _median(directory, "normal")
    unknown = await _median(directory, "nobody")
    assert known > 0.005
    assert 0.1 < unknown / known < 10, (known, unknown)
