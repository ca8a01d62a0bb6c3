"""The first start: an ``admin`` user with a random password, so a new registry is never open.

When ``[basic] users`` configures nobody and the store holds no user at all, ``ensure_admin``
creates ``admin`` (admin flag set), stores the argon2id hash of a random password and returns the
password. The caller prints it once on stdout, never to the log. The creation is one atomic
statement: of several processes starting at once, exactly one creates the user and gets the
password; the others get None. Deleting every stored user brings ``admin`` back on the next start.
"""

from __future__ import annotations

import secrets
from typing import Final

from drift.auth.passwords import hash_password
from drift.auth.store import AdminStore
from drift.config.settings import Settings

__all__ = ["ADMIN_USER", "ensure_admin"]

ADMIN_USER: Final = "admin"
_PASSWORD_BYTES: Final = 18  # 24 URL-safe characters, 144 bits


def ensure_admin(store: AdminStore, settings: Settings) -> str | None:
    """The password of a new ``admin`` user when this call created one, else None; blocking."""
    if settings.basic.users or store.count_users() > 0:
        return None
    password = secrets.token_urlsafe(_PASSWORD_BYTES)
    if store.add_first_user(ADMIN_USER, hash_password(password), admin=True):
        return password
    return None
