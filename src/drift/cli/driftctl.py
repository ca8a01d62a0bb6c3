"""The ``driftctl`` admin command: ``driftctl <group> <action> [--config FILE] ...``.

Each group lives in its own module under ``drift.cli.ctl``; adding one is adding it to ``GROUPS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

from drift import __version__
from drift.cli.common import run_with_settings
from drift.cli.ctl import config, pull, tokens, uploads, users
from drift.cli.ctl.base import Handler, Subcommands

__all__ = ["GROUPS", "build_parser", "main"]

GROUPS: Final[tuple[Callable[[Subcommands], None], ...]] = (
    config.register,
    uploads.register,
    users.register,
    tokens.register,
    pull.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftctl", description="Administer a Drift registry.")
    parser.add_argument("--version", action="version", version=f"driftctl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in GROUPS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return run_with_settings(args, lambda settings: handler(settings, args))
