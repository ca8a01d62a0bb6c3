"""Robot tokens: long-lived credentials of CI jobs and machines, bounded to the scopes they carry.

A token reads ``drift_<id>_<secret>``: ``id`` (16 hex digits) is the lookup key of its record,
``secret`` 32 random bytes in unpadded URL-safe base64. The store keeps the sha256 of the secret
only; a secret of 256 random bits needs no slow hash, and the comparison is constant-time. The
plaintext token exists once, in what ``create_robot`` returns.

A robot can do at most what its scopes say (``Identity.limit``), whatever the policies grant.
A ``push`` scope on a repository implies ``pull`` there (a CI job that pushes must read what is
there: docker and buildkit HEAD and GET blobs and manifests before they upload); ``create_robot``
records that pull, and ``robot_limit`` adds it again on read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Final

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import Identity, IdentityKind
from drift.auth.scopes import parse_scope
from drift.auth.store import AdminStore, RobotRecord
from drift.core.access import Access
from drift.storage.executor import run_blocking

__all__ = [
    "TOKEN_PREFIX",
    "RobotNameTakenError",
    "RobotVerifier",
    "create_robot",
    "looks_like_robot_token",
    "robot_id",
    "robot_limit",
]

TOKEN_PREFIX: Final = "drift_"  # noqa: S105 - the public prefix, not a secret
_ID_BYTES: Final = 8
_SECRET_BYTES: Final = 32
_TOKEN: Final = re.compile(r"drift_([0-9a-f]{16})_([A-Za-z0-9_-]{43,128})\Z")


class RobotNameTakenError(ValueError):
    """A robot token of that name exists (revoked ones keep their name)."""


def looks_like_robot_token(text: str) -> bool:
    """Whether ``text`` has the shape of a robot token (says nothing about its validity)."""
    return _TOKEN.match(text) is not None


def robot_id(token: str) -> str:
    """The lookup id inside a token that ``looks_like_robot_token`` (not secret)."""
    matched = _TOKEN.match(token)
    if matched is None:
        raise ValueError("not a robot token")
    return matched.group(1)


def _secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).hexdigest().encode()


def robot_limit(scopes: tuple[str, ...] | list[str]) -> tuple[Access, ...]:
    """The accesses of ``scopes``: one per resource, actions merged, ``push`` implying ``pull``.

    Raises ``ScopeError`` for a scope that does not parse.
    """
    merged: dict[tuple[str, str], set[str]] = {}
    for text in scopes:
        access = parse_scope(text)
        actions = merged.setdefault((access.type, access.name), set())
        actions.update(access.actions)
        if access.type == "repository" and "push" in access.actions:
            actions.add("pull")
    return tuple(Access(kind, name, frozenset(actions)) for (kind, name), actions in merged.items())


def create_robot(
    store: AdminStore,
    name: str | None,
    scopes: list[str],
    expires_seconds: int | None,
    created_by: str,
    *,
    now: float | None = None,
) -> tuple[RobotRecord, str]:
    """A new robot token: its record (stored) and the plaintext token (stored nowhere).

    ``name`` None: ``token-<id>``. ``expires_seconds`` None: never expires. Raises ``ScopeError``
    for a bad scope, ``ValueError`` for no scope or a non-positive lifetime,
    ``InvalidNameError`` for a bad name and ``RobotNameTakenError`` when the name is in use.
    Blocking (it writes the database): the server calls it through ``run_blocking``.
    """
    if not scopes:
        raise ValueError("a robot token needs at least one scope")
    if expires_seconds is not None and expires_seconds <= 0:
        raise ValueError(f"expected a positive lifetime in seconds, got {expires_seconds}")
    effective = tuple(access.scope() for access in robot_limit(scopes))
    created_at = int(time.time() if now is None else now)
    expires_at = None if expires_seconds is None else created_at + expires_seconds
    while True:
        robot_id = secrets.token_hex(_ID_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        record = RobotRecord(
            id=robot_id,
            name=f"token-{robot_id}" if name is None else name,
            secret_hash=_secret_hash(secret).decode(),
            scopes=effective,
            created_at=created_at,
            expires_at=expires_at,
            revoked_at=None,
            created_by=created_by,
        )
        if store.add_robot(record):
            return record, f"{TOKEN_PREFIX}{robot_id}_{secret}"
        if store.get_robot_by_name(record.name) is not None:
            raise RobotNameTakenError(f"a robot token named {record.name!r} exists")
        # else: the random id collided with another token's (one chance in 2**64): draw again


class RobotVerifier:
    """Turns a presented robot token into the robot's ``Identity``."""

    def __init__(self, store: AdminStore) -> None:
        self.store = store

    async def verify(self, text: str) -> Identity:
        """The robot of token ``text``; ``InvalidCredentialsError`` saying why when it is not
        a token, names no token, has the wrong secret, or is revoked or expired."""
        matched = _TOKEN.match(text)
        if matched is None:
            raise InvalidCredentialsError("not a robot token")
        robot_id, secret = matched.groups()
        record = await run_blocking(self.store.get_robot, robot_id)
        if record is None:
            raise InvalidCredentialsError(f"unknown robot token id {robot_id}")
        if not hmac.compare_digest(_secret_hash(secret), record.secret_hash.encode()):
            raise InvalidCredentialsError(f"wrong secret for robot token {record.name!r}")
        if record.revoked_at is not None:
            raise InvalidCredentialsError(f"robot token {record.name!r} is revoked")
        if record.expired(time.time()):
            raise InvalidCredentialsError(f"robot token {record.name!r} has expired")
        try:
            limit = robot_limit(record.scopes)
        except ValueError:  # a scope this build no longer reads: the token is good for nothing
            raise InvalidCredentialsError(
                f"robot token {record.name!r} has a scope this build cannot read"
            ) from None
        return Identity(IdentityKind.ROBOT, record.name, limit=limit)
