"""``driftctl config show``: the effective configuration (defaults, file, environment)."""

from __future__ import annotations

import argparse
import os

from drift.cli.ctl.base import Subcommands, add_action, add_group
from drift.config.loader import find_config_file, render_settings
from drift.config.settings import Settings

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    actions = add_group(commands, "config", "inspect the configuration")
    add_action(actions, "show", "print the effective configuration as TOML", _show)


def _show(settings: Settings, args: argparse.Namespace) -> int:
    path = find_config_file(args.config, os.environ)
    source = f"config file {path}" if path is not None else "no config file"
    print(f"# effective configuration: defaults, {source}, environment")
    print(render_settings(settings), end="")
    return 0
