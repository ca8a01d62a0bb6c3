"""``driftctl users add|passwd|rm|list``: the local users kept in the admin database.

Passwords are read with a prompt (twice, no echo) when stdin is a terminal, else as one line of
stdin (``--password-stdin`` forces that). Only their argon2id hash is stored; nothing here ever
prints a hash. Users of ``[basic] users`` in the config are listed too but changed in the config.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from drift.auth.passwords import hash_password
from drift.auth.store import InvalidNameError, check_name
from drift.cli.ctl.admin import (
    fail,
    format_time,
    inform,
    open_store,
    print_table,
    record_change,
)
from drift.cli.ctl.base import Subcommands, add_action, add_group
from drift.config.settings import Settings
from drift.events.model import EventKind

__all__ = ["register"]


class _PasswordError(Exception):
    pass


def register(commands: Subcommands) -> None:
    actions = add_group(commands, "users", "manage the users kept in the admin database")
    add = add_action(actions, "add", "create a user", _add)
    add.add_argument("name", metavar="NAME")
    add.add_argument("--admin", action="store_true", help="give the user the admin flag")
    _password_option(add)
    passwd = add_action(actions, "passwd", "set the password of a user", _passwd)
    passwd.add_argument("name", metavar="NAME")
    _password_option(passwd)
    remove = add_action(actions, "rm", "delete a user", _remove)
    remove.add_argument("name", metavar="NAME")
    add_action(actions, "list", "list the users (never their password hashes)", _list)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from one line of stdin (the default when stdin is no terminal)",
    )


def _read_password(from_stdin: bool) -> str:
    if not from_stdin and sys.stdin.isatty():
        try:
            first = getpass.getpass("Password: ")
            second = getpass.getpass("Repeat the password: ")
        except EOFError:
            raise _PasswordError("no password given") from None
        if first != second:
            raise _PasswordError("the two passwords differ")
        password = first
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise _PasswordError("the password is empty")
    return password


def _configured(settings: Settings, name: str) -> bool:
    return any(user.name == name for user in settings.basic.users)


def _add(settings: Settings, args: argparse.Namespace) -> int:
    name: str = args.name
    try:
        check_name(name)
    except InvalidNameError as exc:
        return fail(str(exc))
    store = open_store(settings)
    if store is None:
        return 1
    with store:
        if store.get_user(name) is not None:
            return fail(f"user {name!r} exists (change its password with 'users passwd')")
        try:
            password = _read_password(args.password_stdin)
        except _PasswordError as exc:
            return fail(str(exc))
        if not store.add_user(name, hash_password(password), admin=args.admin):
            return fail(f"user {name!r} exists")
    flag = " (admin)" if args.admin else ""
    record_change(settings, EventKind.PERMISSION_CHANGE, f"user {name} added{flag}")
    print(f"user {name} added{flag}")
    if _configured(settings, name):
        inform(f"note: [basic] users also defines {name!r}; that entry takes precedence")
    return 0


def _passwd(settings: Settings, args: argparse.Namespace) -> int:
    name: str = args.name
    store = open_store(settings)
    if store is None:
        return 1
    with store:
        if store.get_user(name) is None:
            if _configured(settings, name):
                return fail(f"user {name!r} is defined in [basic] users: change it in the config")
            return fail(f"no user {name!r}")
        try:
            password = _read_password(args.password_stdin)
        except _PasswordError as exc:
            return fail(str(exc))
        if not store.set_password(name, hash_password(password)):
            return fail(f"no user {name!r}")
    record_change(settings, EventKind.PERMISSION_CHANGE, f"password of user {name} changed")
    print(f"password of user {name} changed")
    if _configured(settings, name):
        inform(f"note: [basic] users also defines {name!r}; that entry takes precedence")
    return 0


def _remove(settings: Settings, args: argparse.Namespace) -> int:
    name: str = args.name
    store = open_store(settings)
    if store is None:
        return 1
    with store:
        removed = store.remove_user(name)
    if not removed:
        if _configured(settings, name):
            return fail(f"user {name!r} is defined in [basic] users: remove it from the config")
        return fail(f"no user {name!r}")
    record_change(settings, EventKind.PERMISSION_CHANGE, f"user {name} removed")
    print(f"user {name} removed")
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    del args
    store = open_store(settings)
    if store is None:
        return 1
    with store:
        stored = store.list_users()
    configured = {user.name for user in settings.basic.users}
    rows = [
        (
            user.name,
            "yes" if user.admin else "no",
            format_time(user.created_at),
            "store (shadowed by config)" if user.name in configured else "store",
        )
        for user in stored
    ]
    rows += [(name, "no", "-", "config") for name in configured]
    print_table(("NAME", "ADMIN", "CREATED", "SOURCE"), sorted(rows))
    return 0
