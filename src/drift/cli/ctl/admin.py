"""What the ``driftctl users`` and ``driftctl tokens`` groups share.

The admin store of the settings, the audit record of each change (``emit_offline``: a line
written by ``driftctl`` has the shape of one written by the server, with the actor
``driftctl:<OS user>``), one-line errors and how times are shown.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Final

from drift.auth.store import AdminStore, database_path
from drift.config.settings import Settings
from drift.events.audit import audit_path
from drift.events.model import EventKind, RegistryEvent
from drift.events.offline import emit_offline

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "actor",
    "fail",
    "format_time",
    "inform",
    "open_store",
    "print_table",
    "record_change",
]

EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


def fail(message: str, status: int = EXIT_FAILED) -> int:
    """Print ``driftctl: <message>`` on stderr; return the exit status to return."""
    print(f"driftctl: {message}", file=sys.stderr)
    return status


def inform(message: str) -> None:
    """What a command did, beside its output: on stderr, so stdout stays the output alone."""
    print(message, file=sys.stderr)


def open_store(settings: Settings) -> AdminStore | None:
    """The admin store, or None after printing why it cannot be opened."""
    try:
        path = database_path(settings)
    except ValueError as exc:  # a database URL this build cannot use
        fail(str(exc), EXIT_USAGE)
        return None
    try:
        return AdminStore(path)
    except (OSError, RuntimeError, sqlite3.Error) as exc:
        fail(f"cannot open the admin database {path}: {exc}")
        return None


def actor() -> str:
    """``driftctl:<login name>``, as the audit trail names the operator."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (containers)
        user = f"uid{os.getuid()}"
    return f"driftctl:{user}"


def record_change(settings: Settings, kind: EventKind, detail: str) -> None:
    """Append the change to the audit trail (when enabled); warn on stderr when that failed."""
    if not emit_offline(settings, RegistryEvent(kind, actor=actor(), detail=detail)):
        audit = audit_path(settings.storage.fs_root)
        fail(f"warning: the change is made, but the audit log {audit} was not written")


def format_time(seconds: int | None, missing: str = "-") -> str:
    if seconds is None:
        return missing
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell, two spaces apart (the last one unpadded)."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
