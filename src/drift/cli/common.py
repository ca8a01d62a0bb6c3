"""What the ``drift`` and ``driftctl`` commands share: the ``--config`` option and its loading."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from drift.config.loader import ConfigError, load_settings
from drift.config.settings import Settings
from drift.logsetup import configure_logging

__all__ = ["EXIT_CONFIG_ERROR", "add_config_option", "load_cli_settings", "run_with_settings"]

EXIT_CONFIG_ERROR: Final = 2


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML config file (default: $DRIFT_CONFIG, else ./drift.toml when present)",
    )


def load_cli_settings(config: Path | None) -> Settings | None:
    """The settings from ``--config`` and the environment, or None after printing the one-line
    error to stderr (the caller then exits with ``EXIT_CONFIG_ERROR`` and starts nothing)."""
    try:
        return load_settings(config, os.environ)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def run_with_settings(args: argparse.Namespace, command: Callable[[Settings], int]) -> int:
    """Load the settings, set up logging and run ``command``; exit status 2 on a config error."""
    settings = load_cli_settings(args.config)
    if settings is None:
        return EXIT_CONFIG_ERROR
    configure_logging(settings.log)
    return command(settings)
