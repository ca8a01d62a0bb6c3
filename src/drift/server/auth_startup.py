"""What ``drift serve`` does about auth once, before any worker starts.

- ``none``: a loud warning, nothing else.
- First start with nobody configured: create ``admin`` with a random password and print it once
  on stdout (never into the log; only its hash is stored).
- Warn about plain-text passwords in ``[basic] users``.
- Create the token signing key, so every worker reads the same one.
- Record a ``permission.change`` audit event when the RBAC settings differ from the last start.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path
from typing import Final

import orjson

from drift.auth.bootstrap import ADMIN_USER, ensure_admin
from drift.auth.signing_key import load_signing_key
from drift.auth.store import AdminStore
from drift.auth.users import UserDirectory
from drift.config.fields import FIELDS
from drift.config.settings import AuthMode, Settings
from drift.events.model import EventKind, RegistryEvent
from drift.events.offline import emit_offline

__all__ = ["AuthStartupError", "prepare_auth"]

_log = logging.getLogger("drift")
_POLICY_SECTIONS: Final = ("rbac",)
_POLICY_KEYS: Final = ("auth.anonymous_pull",)
_FINGERPRINT_KEY: Final = "rbac_fingerprint"


class AuthStartupError(Exception):
    """The admin database or the signing key cannot be used; Drift does not start."""


def _policy_document(settings: Settings) -> dict[str, object]:
    return {
        field.name: field.codec.dump(field.current(getattr(settings, field.section)))
        for field in FIELDS
        if field.section in _POLICY_SECTIONS or field.name in _POLICY_KEYS
    }


def _announce_admin(password: str, settings: Settings) -> None:
    port = settings.server.bind_port
    print(
        "\n".join(
            (
                "",
                "=" * 72,
                f"Drift created the user {ADMIN_USER!r}: this is its password, shown only now.",
                f"    {password}",
                f"Log in with: skopeo login --username {ADMIN_USER} <host>:{port}",
                "Change it: driftctl users passwd admin; more users: driftctl users add NAME",
                "=" * 72,
                "",
            )
        ),
        flush=True,
    )


def _record_policy_change(settings: Settings, store: AdminStore) -> None:
    document = orjson.dumps(_policy_document(settings), option=orjson.OPT_SORT_KEYS)
    fingerprint = hashlib.sha256(document).hexdigest()
    previous = store.get_meta(_FINGERPRINT_KEY)
    if previous == fingerprint:
        return
    what = "set" if previous is None else "changed"
    detail = f"RBAC policy {what} (configuration): {document.decode()}"
    if emit_offline(
        settings, RegistryEvent(EventKind.PERMISSION_CHANGE, actor="drift", detail=detail)
    ):
        store.set_meta(_FINGERPRINT_KEY, fingerprint)  # recorded: not again at the next start


def prepare_auth(settings: Settings) -> None:
    mode = settings.auth.mode
    if mode is AuthMode.NONE:
        _log.warning(
            "AUTH IS OFF (auth.mode = none): anyone who can reach %s:%d can read, push and "
            "delete every repository",
            settings.server.bind_host,
            settings.server.bind_port,
        )
        return
    try:
        with AdminStore.for_settings(settings) as store:
            password = ensure_admin(store, settings)
            if password is not None:
                _announce_admin(password, settings)
            _record_policy_change(settings, store)
            plain = UserDirectory(settings.basic.users, store).plaintext_config_users()
        if not settings.token.external:
            load_signing_key(settings.token.signing_key, Path(settings.storage.fs_root))
    except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
        raise AuthStartupError(str(exc)) from exc
    if plain:
        _log.warning(
            "plain-text passwords in basic.users for %s: store bcrypt or argon2 hashes instead "
            "(driftctl users add keeps only a hash)",
            ", ".join(plain),
        )
    _log.info("auth mode %s", mode.value)
