"""Local users: the ``[basic] users`` of the config and the users ``driftctl`` keeps in the store.

Both count. A config user shadows a stored user of the same name entirely (its password, and no
admin flag: admin rights of config users come from ``[rbac] admins``). A name that is neither
still costs one argon2 verification before it is refused, so the time of a refusal does not tell
whether the name exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from drift.auth.errors import InvalidCredentialsError
from drift.auth.identity import Identity, IdentityKind
from drift.auth.passwords import (
    PasswordScheme,
    is_hashed,
    password_scheme,
    verify_password,
    verify_unknown,
)
from drift.auth.store import AdminStore
from drift.config.settings import ConfiguredUser
from drift.storage.executor import run_blocking

__all__ = ["UserDirectory"]

_UNKNOWN: Final = "unknown user"
_WRONG: Final = "wrong password"


class UserDirectory:
    """Checks user name and password against the config users, then the store (when given)."""

    def __init__(self, configured: Iterable[ConfiguredUser], store: AdminStore | None) -> None:
        self.configured = {user.name: user for user in configured}
        self.store = store

    def plaintext_config_users(self) -> list[str]:
        """Config users whose password is written in plain text (start-up warns about them)."""
        return sorted(
            name
            for name, user in self.configured.items()
            if password_scheme(user.password) is PasswordScheme.PLAIN
        )

    def unsupported_config_users(self) -> list[str]:
        """Config users whose password is a hash of a kind this build cannot verify."""
        return sorted(
            name
            for name, user in self.configured.items()
            if password_scheme(user.password) is PasswordScheme.UNSUPPORTED
        )

    async def authenticate(self, name: str, password: str) -> Identity:
        """The user ``name`` when ``password`` is theirs; else ``InvalidCredentialsError``
        ("unknown user" or "wrong password": the message holds neither name nor password)."""
        refusal, admin = await run_blocking(self._check, name, password)
        if refusal is not None:
            raise InvalidCredentialsError(refusal)
        return Identity(IdentityKind.USER, name, admin=admin)

    def _check(self, name: str, password: str) -> tuple[str | None, bool]:
        """(None, admin flag) on success, else (the reason, False); blocking."""
        configured = self.configured.get(name)
        if configured is not None:
            matched = verify_password(configured.password, password)
            if not is_hashed(configured.password):
                verify_unknown(password)  # plain text is instant: cost what a hash costs
            return (None, False) if matched else (_WRONG, False)
        stored = None if self.store is None else self.store.get_user(name)
        if stored is None:
            verify_unknown(password)
            return _UNKNOWN, False
        if verify_password(stored.password_hash, password):
            return None, stored.admin
        return _WRONG, False
