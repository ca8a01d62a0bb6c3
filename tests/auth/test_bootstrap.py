"""The first start creates one ``admin`` with a random password, once, whoever starts first."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from drift.auth.bootstrap import ADMIN_USER, ensure_admin
from drift.auth.passwords import verify_password
from drift.auth.store import AdminStore
from drift.config.settings import BasicSettings, ConfiguredUser, Settings

PROCESSES = 4


def test_creates_admin_once(tmp_path: Path) -> None:
    with AdminStore(tmp_path / "drift.db") as store:
        password = ensure_admin(store, Settings())
        assert password is not None
        assert len(password) >= 24
        admin = store.get_user(ADMIN_USER)
        assert admin is not None
        assert admin.admin
        assert admin.password_hash.startswith("$argon2id$")
        assert password not in admin.password_hash
        assert verify_password(admin.password_hash, password)
        assert ensure_admin(store, Settings()) is None
        assert store.count_users() == 1
        assert store.get_user(ADMIN_USER) == admin


def test_passwords_differ_between_registries(tmp_path: Path) -> None:
    passwords = set()
    for index in range(3):
        with AdminStore(tmp_path / f"{index}.db") as store:
            passwords.add(ensure_admin(store, Settings()))
    assert len(passwords) == 3


def test_not_when_config_users_exist(tmp_path: Path) -> None:
    settings = Settings(basic=BasicSettings(users=(ConfiguredUser("ops", "pw"),)))
    with AdminStore(tmp_path / "drift.db") as store:
        assert ensure_admin(store, settings) is None
        assert store.count_users() == 0


def test_not_when_the_store_has_a_user(tmp_path: Path) -> None:
    with AdminStore(tmp_path / "drift.db") as store:
        store.add_user("bob", "hash")
        assert ensure_admin(store, Settings()) is None
        assert store.get_user(ADMIN_USER) is None


def _start(path: str, start: multiprocessing.synchronize.Event) -> str | None:
    with AdminStore(Path(path)) as store:
        start.wait()
        return ensure_admin(store, Settings())


def test_processes_starting_at_once_create_one_admin(tmp_path: Path) -> None:
    path = tmp_path / "drift.db"
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Event()
    with context.Pool(PROCESSES) as pool:
        results = [pool.apply_async(_start, (str(path), start)) for _ in range(PROCESSES)]
        start.set()
        passwords = [result.get(timeout=60) for result in results]
    created = [password for password in passwords if password is not None]
    assert len(created) == 1
    with AdminStore(path) as store:
        assert store.count_users() == 1
        admin = store.get_user(ADMIN_USER)
        assert admin is not None
        assert verify_password(admin.password_hash, created[0])
