"""Admin state (users, robot tokens, small settings) in one SQLite file shared by every process.

The worker processes of ``drift serve`` and ``driftctl`` open the same file at the same time.
SQLite in WAL mode lets readers run beside the one writer; a writer that finds the file locked
waits up to ``BUSY_TIMEOUT`` seconds. Every change is one statement or one ``BEGIN IMMEDIATE``
transaction, so concurrent processes never see half of one, and "create if absent" is a single
``INSERT OR IGNORE``: of two processes racing to create the same row, exactly one reports it made.

The API is synchronous; the server calls it through ``run_blocking``. Each thread of each process
gets its own connection (a connection must not cross a ``fork``, and worker processes are forked).
The file holds password hashes: it is created 0600 in a directory created 0700. WAL needs a local
filesystem (not NFS). Times are whole seconds since the Unix epoch.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from drift.config.settings import Settings

__all__ = [
    "BUSY_TIMEOUT",
    "NAME_RULE",
    "SCHEMA_VERSION",
    "AdminStore",
    "InvalidNameError",
    "RobotRecord",
    "StoredUser",
    "check_name",
    "database_path",
]

BUSY_TIMEOUT: Final = 10.0
NAME_RULE: Final = "1 to 64 letters, digits, '.', '_', '-' or '@', the first a letter or digit"
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")  # as in [basic] users
_SQLITE_PREFIX: Final = "sqlite:///"

# Migration n (1-based) brings the schema from version n-1 to n; never edit a released one.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            admin INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
        )""",
        """CREATE TABLE robot_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            secret_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            revoked_at INTEGER,
            created_by TEXT NOT NULL
        )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)

_SELECT_USERS: Final = "SELECT name, password_hash, admin, created_at FROM users"
_SELECT_ROBOTS: Final = (
    "SELECT id, name, secret_hash, scopes, created_at, expires_at, revoked_at, created_by "
    "FROM robot_tokens"
)


class InvalidNameError(ValueError):
    """A user or robot name outside ``NAME_RULE``."""


def check_name(name: str, what: str = "user") -> str:
    """``name`` when it follows ``NAME_RULE``; the error message says what the rule is."""
    if not _NAME.match(name):
        raise InvalidNameError(f"invalid {what} name {name!r}: expected {NAME_RULE}")
    return name


def database_path(settings: Settings) -> Path:
    """The SQLite file of ``settings.database.url``.

    Empty: ``<fs_root>/.drift/drift.db``. ``sqlite:///PATH``: PATH, the SQLAlchemy spelling, so
    ``sqlite:///drift.db`` is relative to the working directory and ``sqlite:////var/lib/d.db``
    absolute. Any other URL raises ``ValueError``.
    """
    url = settings.database.url
    if not url:
        return settings.storage.fs_root / ".drift" / "drift.db"
    if url.startswith(_SQLITE_PREFIX):
        path = url[len(_SQLITE_PREFIX) :]
        if not path or path == ":memory:" or "?" in path:
            raise ValueError(f"database.url: expected sqlite:///PATH with a file path, got {url!r}")
        return Path(path)
    scheme = url.partition(":")[0] or url
    raise ValueError(
        f"database.url: {scheme!r} databases are not available yet in this build; "
        "use sqlite:///PATH or leave it empty for SQLite in the data directory"
    )


@dataclass(frozen=True, slots=True)
class StoredUser:
    name: str
    password_hash: str = field(repr=False)
    admin: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class RobotRecord:
    id: str  # the lookup key inside the token (not secret)
    name: str
    secret_hash: str = field(repr=False)  # hex sha256 of the token's secret part
    scopes: tuple[str, ...]  # effective scopes, in the Docker token-spec spelling
    created_at: int
    expires_at: int | None  # None: never
    revoked_at: int | None
    created_by: str

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def _user(row: tuple[str, str, int, int]) -> StoredUser:
    name, password_hash, admin, created_at = row
    return StoredUser(name, password_hash, bool(admin), created_at)


def _robot(row: tuple[str, str, str, str, int, int | None, int | None, str]) -> RobotRecord:
    id_, name, secret_hash, scopes, created_at, expires_at, revoked_at, created_by = row
    return RobotRecord(
        id_,
        name,
        secret_hash,
        tuple(json.loads(scopes)),
        created_at,
        expires_at,
        revoked_at,
        created_by,
    )


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.close(fd)  # SQLite gives its -wal and -shm files the mode of this file


class AdminStore:
    """The admin database at ``path``, created and migrated to ``SCHEMA_VERSION`` on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Every connection made, with the pid that made it. A forked child never closes (nor
        # lets the garbage collector close) one of its parent's: it only makes its own.
        self._opened: list[tuple[int, sqlite3.Connection]] = []
        _create_private(path)
        try:
            self._migrate(self._connection())
        except BaseException:
            self.close()
            raise

    @classmethod
    def for_settings(cls, settings: Settings) -> AdminStore:
        return cls(database_path(settings))

    def close(self) -> None:
        """Close the connections this process opened (the store reopens them when used again)."""
        pid = os.getpid()
        for owner, connection in self._opened:
            if owner == pid:
                connection.close()
        self._opened = [(owner, c) for owner, c in self._opened if owner != pid]
        self._local = threading.local()

    def __enter__(self) -> AdminStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == pid:
            return held[1]
        # isolation_level=None: autocommit, transactions only where BEGIN says so.
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # a revoke must survive a power cut
        self._local.held = (pid, connection)
        self._opened.append((pid, connection))  # atomic under the GIL: no lock to fork
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        if self._version(connection) == SCHEMA_VERSION:
            return
        connection.execute("BEGIN IMMEDIATE")  # one process migrates, the others wait for it
        try:
            version = self._version(connection)
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: schema version {version} is newer than this build "
                    f"supports ({SCHEMA_VERSION}); upgrade Drift"
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    @staticmethod
    def _version(connection: sqlite3.Connection) -> int:
        version: int = connection.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _changed(self, sql: str, *args: object) -> bool:
        return self._connection().execute(sql, args).rowcount > 0

    # users

    def add_user(self, name: str, password_hash: str, admin: bool = False) -> bool:
        """Create the user; False when one of that name exists (then nothing changes).

        Raises ``InvalidNameError`` for a name outside ``NAME_RULE``.
        """
        check_name(name)
        return self._changed(
            "INSERT OR IGNORE INTO users (name, password_hash, admin, created_at) "
            "VALUES (?, ?, ?, ?)",
            name,
            password_hash,
            int(admin),
            int(time.time()),
        )

    def add_first_user(self, name: str, password_hash: str, admin: bool = False) -> bool:
        """Create the user only when there is no user at all, atomically; True when created."""
        check_name(name)
        return self._changed(
            "INSERT OR IGNORE INTO users (name, password_hash, admin, created_at) "
            "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users)",
            name,
            password_hash,
            int(admin),
            int(time.time()),
        )

    def set_password(self, name: str, password_hash: str) -> bool:
        return self._changed(
            "UPDATE users SET password_hash = ? WHERE name = ?", password_hash, name
        )

    def remove_user(self, name: str) -> bool:
        return self._changed("DELETE FROM users WHERE name = ?", name)

    def get_user(self, name: str) -> StoredUser | None:
        sql = f"{_SELECT_USERS} WHERE name = ?"
        row = self._connection().execute(sql, (name,)).fetchone()
        return None if row is None else _user(row)

    def list_users(self) -> list[StoredUser]:
        sql = f"{_SELECT_USERS} ORDER BY name"
        return [_user(row) for row in self._connection().execute(sql)]

    def count_users(self) -> int:
        count: int = self._connection().execute("SELECT count(*) FROM users").fetchone()[0]
        return count

    # robot tokens

    def add_robot(self, record: RobotRecord) -> bool:
        """Store ``record``; False when its id or its name is taken (then nothing changes)."""
        check_name(record.name, "robot")
        return self._changed(
            "INSERT OR IGNORE INTO robot_tokens (id, name, secret_hash, scopes, created_at, "
            "expires_at, revoked_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            record.id,
            record.name,
            record.secret_hash,
            json.dumps(list(record.scopes)),
            record.created_at,
            record.expires_at,
            record.revoked_at,
            record.created_by,
        )

    def get_robot(self, robot_id: str) -> RobotRecord | None:
        sql = f"{_SELECT_ROBOTS} WHERE id = ?"
        row = self._connection().execute(sql, (robot_id,)).fetchone()
        return None if row is None else _robot(row)

    def get_robot_by_name(self, name: str) -> RobotRecord | None:
        sql = f"{_SELECT_ROBOTS} WHERE name = ?"
        row = self._connection().execute(sql, (name,)).fetchone()
        return None if row is None else _robot(row)

    def list_robots(self) -> list[RobotRecord]:
        sql = f"{_SELECT_ROBOTS} ORDER BY created_at, name"
        return [_robot(row) for row in self._connection().execute(sql)]

    def revoke_robot(self, id_or_name: str) -> bool:
        """Revoke the token of that id (else of that name); False when none is unrevoked."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            record = self.get_robot(id_or_name) or self.get_robot_by_name(id_or_name)
            changed = record is not None and self._changed(
                "UPDATE robot_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                int(time.time()),
                record.id,
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return changed

    # meta

    def get_meta(self, key: str) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._connection().execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
