"""``driftctl uploads purge``: delete upload sessions older than an age."""

from __future__ import annotations

import argparse
import asyncio

from drift.cli.ctl.base import Subcommands, add_action, add_group
from drift.config.errors import InvalidValueError
from drift.config.settings import Settings
from drift.config.values import format_duration, parse_duration

__all__ = ["register"]


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except InvalidValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as '168h', '30m' or '7d', got {text!r}"
        ) from None


def register(commands: Subcommands) -> None:
    actions = add_group(commands, "uploads", "manage upload sessions")
    purge = add_action(actions, "purge", "delete upload sessions older than an age", _purge)
    purge.add_argument(
        "--older-than",
        type=_duration,
        metavar="DURATION",
        help="age such as 168h, 30m or 7d (default: registry.upload_purge_age)",
    )


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from drift.server.maintenance import purge_uploads  # noqa: PLC0415 - loads the server only here

    older_than: int = (
        settings.registry.upload_purge_age_seconds if args.older_than is None else args.older_than
    )
    count = asyncio.run(purge_uploads(settings, older_than))
    print(f"purged {count} upload(s) older than {format_duration(older_than)}")
    return 0
