"""``driftctl tokens create|list|revoke``: robot tokens for CI jobs and machines.

``create`` prints the token alone on stdout (``TOKEN=$(driftctl tokens create ...)`` works) and
what it made on stderr; the token is shown this once and stored as a hash only. ``list`` never
shows a secret. A bad scope, lifetime or name is a one-line usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import time
from typing import Final

from drift.auth.robots import RobotNameTakenError, create_robot, looks_like_robot_token, robot_id
from drift.auth.scopes import ScopeError
from drift.auth.store import InvalidNameError, RobotRecord, check_name
from drift.cli.ctl.admin import (
    EXIT_USAGE,
    actor,
    fail,
    format_time,
    inform,
    open_store,
    print_table,
    record_change,
)
from drift.cli.ctl.base import Subcommands, add_action, add_group
from drift.config.errors import InvalidValueError
from drift.config.settings import Settings
from drift.config.values import format_duration, parse_duration
from drift.events.model import EventKind

__all__ = ["DEFAULT_EXPIRY", "register"]

DEFAULT_EXPIRY: Final = "90d"
_NEVER: Final = "never"


def register(commands: Subcommands) -> None:
    actions = add_group(commands, "tokens", "manage robot tokens")
    create = add_action(actions, "create", "create a robot token and print it once", _create)
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        metavar="SCOPE",
        help="what the token may do, e.g. repository:team/app:push (repeatable)",
    )
    create.add_argument(
        "--expires",
        default=DEFAULT_EXPIRY,
        metavar="DURATION",
        help=f"lifetime such as 30d or 12h, or '{_NEVER}' (default: {DEFAULT_EXPIRY})",
    )
    create.add_argument("--name", help="the robot's name (default: token-<id>)")
    add_action(actions, "list", "list robot tokens (never their secrets)", _list)
    revoke = add_action(actions, "revoke", "revoke a robot token", _revoke)
    revoke.add_argument("token", metavar="ID_OR_NAME")


def _lifetime(text: str) -> int | None:
    if text.strip().lower() == _NEVER:
        return None
    seconds = parse_duration(text)
    if seconds <= 0:
        raise InvalidValueError
    return seconds


def _state(record: RobotRecord, now: float) -> str:
    if record.revoked_at is not None:
        return "revoked"
    return "expired" if record.expired(now) else "active"


def _create(settings: Settings, args: argparse.Namespace) -> int:
    scopes: list[str] = args.scope
    try:
        expires = _lifetime(args.expires)
    except InvalidValueError:
        return fail(
            f"--expires: expected a duration such as 30d or 12h, or '{_NEVER}', "
            f"got {args.expires!r}",
            EXIT_USAGE,
        )
    try:
        if args.name is not None:
            check_name(args.name, "robot")
        store = open_store(settings)
        if store is None:
            return 1
        with store:
            record, token = create_robot(store, args.name, scopes, expires, actor())
    except ScopeError as exc:
        return fail(f"--scope: {exc}", EXIT_USAGE)
    except InvalidNameError as exc:
        return fail(f"--name: {exc}", EXIT_USAGE)
    except RobotNameTakenError as exc:
        return fail(str(exc))
    until = _NEVER if expires is None else format_time(record.expires_at)
    scope_text = " ".join(record.scopes)
    record_change(
        settings,
        EventKind.TOKEN_CREATE,
        f"robot token {record.name} (id {record.id}) created, scopes {scope_text}, expires {until}",
    )
    print(token, flush=True)
    lifetime = "" if expires is None else f" ({format_duration(expires)})"
    inform(
        f"created robot token {record.name} (id {record.id}), scopes {scope_text}, "
        f"expires {until}{lifetime}; the token is shown only this once"
    )
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    del args
    store = open_store(settings)
    if store is None:
        return 1
    with store:
        records = store.list_robots()
    now = time.time()
    rows = [
        (
            record.id,
            record.name,
            _state(record, now),
            format_time(record.created_at),
            format_time(record.expires_at, _NEVER),
            format_time(record.revoked_at),
            " ".join(record.scopes),
        )
        for record in records
    ]
    print_table(("ID", "NAME", "STATE", "CREATED", "EXPIRES", "REVOKED", "SCOPES"), rows)
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    wanted: str = args.token
    if looks_like_robot_token(wanted):  # the token itself: revoke it, never echo it
        wanted = robot_id(wanted)
    store = open_store(settings)
    if store is None:
        return 1
    with store:
        record = store.get_robot(wanted) or store.get_robot_by_name(wanted)
        revoked = record is not None and store.revoke_robot(record.id)
    if record is None:
        return fail(f"no robot token with the id or name {wanted!r}")
    if not revoked:
        inform(f"robot token {record.name} (id {record.id}) was already revoked")
        return 0
    record_change(
        settings, EventKind.TOKEN_REVOKE, f"robot token {record.name} (id {record.id}) revoked"
    )
    print(f"revoked robot token {record.name} (id {record.id})")
    return 0
