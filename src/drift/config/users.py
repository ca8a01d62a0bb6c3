"""``[basic] users`` / ``DRIFT_USERS``: the users configured with their passwords.

In ``drift.toml`` a table ``[basic.users]`` of ``name = "password"``, or an array of
``"name:password"`` strings; in the environment ``user:pass,user2:pass2``. A password may be a
bcrypt or argon2 hash. Argon2 hashes contain commas (``m=65536,t=3,p=4``), so a comma starts a
new user only where the text after it has a ``name:`` prefix. Passwords are never shown back.
"""

from __future__ import annotations

import re
from typing import Final

from drift.config.errors import InvalidValueError
from drift.config.settings import ConfiguredUser
from drift.config.values import Codec, TomlScalar, show

__all__ = ["USER_NAME", "ConfiguredUsers"]

USER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_ENTRY_START: Final = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._@-]{0,63}:")


def _split_entries(text: str) -> list[str]:
    entries: list[str] = []
    for part in text.split(","):
        if entries and not _ENTRY_START.match(part):
            entries[-1] += "," + part
        elif part.strip():
            entries.append(part.strip())
    return entries


class ConfiguredUsers(Codec[tuple[ConfiguredUser, ...]]):
    expected = (
        'a table [basic.users] of name = "password" (or an array of "name:password"; in the '
        "environment user:pass,user2:pass2); a password may be a bcrypt or argon2 hash"
    )

    def parse(self, raw: object) -> tuple[ConfiguredUser, ...]:
        pairs: list[tuple[object, object]]
        if isinstance(raw, dict):
            pairs = list(raw.items())
        elif isinstance(raw, str | list):
            entries = _split_entries(raw) if isinstance(raw, str) else raw
            pairs = []
            for item in entries:
                if not isinstance(item, str) or ":" not in item:
                    raise InvalidValueError(
                        f"expected {self.expected}, got an entry without 'name:'"
                    )
                user, _, secret = item.partition(":")
                pairs.append((user.strip(), secret))
        else:
            raise InvalidValueError
        users: dict[str, ConfiguredUser] = {}
        for name, password in pairs:
            if not isinstance(name, str) or not USER_NAME.fullmatch(name):
                raise InvalidValueError(
                    f"expected user names of letters, digits and . _ - @ (at most 64), "
                    f"got {show(name)}"
                )
            if not isinstance(password, str) or not password:
                raise InvalidValueError(f"user {name!r}: expected a non-empty password or hash")
            if name in users:
                raise InvalidValueError(f"user {name!r} is given twice")
            users[name] = ConfiguredUser(name, password)
        return tuple(users.values())

    def dump(self, value: tuple[ConfiguredUser, ...]) -> TomlScalar:
        return {user.name: "<set>" for user in value}
