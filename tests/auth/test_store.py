"""The admin store: SQLite shared by processes, created private, migrated, atomic creations."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from drift.auth.store import (
    SCHEMA_VERSION,
    AdminStore,
    InvalidNameError,
    RobotRecord,
    check_name,
    database_path,
)
from drift.config.settings import DatabaseSettings, Settings, StorageSettings

PROCESSES = 8


def settings_with(url: str, root: Path = Path("/srv/drift")) -> Settings:
    return Settings(database=DatabaseSettings(url=url), storage=StorageSettings(fs_root=root))


def robot(robot_id: str = "0123456789abcdef", name: str = "ci", **changes: object) -> RobotRecord:
    fields: dict[str, object] = {
        "id": robot_id,
        "name": name,
        "secret_hash": "ab" * 32,
        "scopes": ("repository:ci/app:pull,push",),
        "created_at": 1_700_000_000,
        "expires_at": None,
        "revoked_at": None,
        "created_by": "driftctl:root",
    }
    fields.update(changes)
    return RobotRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AdminStore]:
    with AdminStore(tmp_path / "state" / "drift.db") as opened:
        yield opened


def test_database_path_of_the_settings() -> None:
    assert database_path(settings_with("")) == Path("/srv/drift/.drift/drift.db")
    assert database_path(settings_with("sqlite:////var/lib/d.db")) == Path("/var/lib/d.db")
    assert database_path(settings_with("sqlite:///state/d.db")) == Path("state/d.db")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://db.example/drift", "'postgresql' databases are not available yet"),
        ("mysql://db/drift", "'mysql' databases are not available yet in this build"),
        ("sqlite:///", "expected sqlite:///PATH"),
        ("sqlite:///:memory:", "expected sqlite:///PATH"),
        ("sqlite:///d.db?mode=ro", "expected sqlite:///PATH"),
    ],
)
def test_database_path_refuses_what_this_build_cannot_use(url: str, expected: str) -> None:
    with pytest.raises(ValueError, match=r"database\.url") as raised:
        database_path(settings_with(url))
    assert expected in str(raised.value)


def test_created_private_in_wal_mode_at_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "drift.db"
    with AdminStore(path) as store:
        store.add_user("alice", "hash")
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for file in path.parent.iterdir():  # the database and its -wal and -shm files
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_users(store: AdminStore) -> None:
    assert store.count_users() == 0
    assert store.add_user("bob", "hash-1", admin=True)
    assert not store.add_user("bob", "hash-2")  # exists: nothing changes
    assert store.add_user("alice@example.com", "hash-3")
    bob = store.get_user("bob")
    assert bob is not None
    assert (bob.name, bob.password_hash, bob.admin) == ("bob", "hash-1", True)
    assert bob.created_at > 1_700_000_000
    assert "hash-1" not in repr(bob)
    assert [user.name for user in store.list_users()] == ["alice@example.com", "bob"]
    assert store.count_users() == 2
    assert store.set_password("bob", "hash-4")
    assert store.get_user("bob").password_hash == "hash-4"  # type: ignore[union-attr]
    assert not store.set_password("nobody", "x")
    assert store.remove_user("bob")
    assert not store.remove_user("bob")
    assert store.get_user("bob") is None
    assert store.count_users() == 1


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "bob:pw", "ünï", "a/b", "-bob", ".x"])
def test_invalid_names_are_refused(store: AdminStore, name: str) -> None:
    with pytest.raises(InvalidNameError, match="expected 1 to 64 letters"):
        store.add_user(name, "hash")
    with pytest.raises(InvalidNameError):
        check_name(name)
    assert store.count_users() == 0


def test_first_user_only_when_there_is_none(store: AdminStore) -> None:
    assert store.add_first_user("admin", "h", admin=True)
    assert not store.add_first_user("other", "h")
    assert [user.name for user in store.list_users()] == ["admin"]


def test_robot_tokens(store: AdminStore) -> None:
    record = robot(expires_at=1_800_000_000)
    assert store.add_robot(record)
    assert not store.add_robot(robot("fedcba9876543210", "ci"))  # the name is taken
    assert not store.add_robot(robot("0123456789abcdef", "other"))  # the id is taken
    assert store.get_robot(record.id) == record
    assert store.get_robot_by_name("ci") == record
    assert store.get_robot("fedcba9876543210") is None
    assert "ab" * 32 not in repr(record)
    assert store.add_robot(robot("1111111111111111", "deploy", created_at=1_700_000_001))
    assert [r.name for r in store.list_robots()] == ["ci", "deploy"]
    assert store.revoke_robot("ci")  # by name
    assert not store.revoke_robot("ci")  # already revoked
    assert store.revoke_robot("1111111111111111")  # by id
    assert not store.revoke_robot("nothing")
    revoked = store.get_robot(record.id)
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert revoked.scopes == record.scopes


def test_robot_expiry() -> None:
    record = robot(expires_at=1000)
    assert not record.expired(999.5)
    assert record.expired(1000)
    assert not robot().expired(10**12)


def test_meta(store: AdminStore) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.get_meta("k") == "v2"


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "drift.db"
    with AdminStore(path) as store:
        store.add_user("bob", "hash", admin=True)
        store.add_robot(robot())
        store.set_meta("k", "v")
    with AdminStore(path) as store:
        assert store.get_user("bob") is not None
        assert store.get_robot_by_name("ci") is not None
        assert store.get_meta("k") == "v"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "drift.db"
    AdminStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this build supports"):
        AdminStore(path)


def test_threads_of_one_process_share_a_store(store: AdminStore) -> None:
    names = [f"user{i}" for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        created = list(pool.map(lambda name: store.add_user(name, "h"), names + names))
    assert created.count(True) == len(names)
    assert store.count_users() == len(names)


def _add_same_user(path: str, start: multiprocessing.synchronize.Event) -> bool:
    with AdminStore(Path(path)) as store:  # every process also races to create the schema
        start.wait()
        return store.add_user("bob", f"hash-of-{os.getpid()}")


def test_processes_racing_to_add_a_user_make_exactly_one(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "drift.db"
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Event()
    with context.Pool(PROCESSES) as pool:
        results = [pool.apply_async(_add_same_user, (str(path), start)) for _ in range(PROCESSES)]
        start.set()
        outcomes = [result.get(timeout=60) for result in results]
    assert outcomes.count(True) == 1
    with AdminStore(path) as store:
        assert store.count_users() == 1


def test_a_store_opened_before_fork_works_in_the_child(store: AdminStore) -> None:
    store.add_user("parent", "h")
    context = multiprocessing.get_context("fork")
    process = context.Process(target=lambda: store.add_user("child", "h"))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert {user.name for user in store.list_users()} == {"parent", "child"}
