"""The frame of a ``driftctl`` subcommand group.

A group module exposes ``register(commands: Subcommands) -> None``, which adds its parser and,
for each action, calls ``add_action`` with the handler to run. ``driftctl`` loads the settings
(``--config`` and the environment) before it calls the handler.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

from drift.cli.common import add_config_option
from drift.config.settings import Settings

__all__ = ["Handler", "Subcommands", "add_action", "add_group"]

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler: TypeAlias = Callable[[Settings, argparse.Namespace], int]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def add_group(commands: Subcommands, name: str, help_text: str) -> Subcommands:
    """A ``driftctl <name> ACTION`` group; returns where its actions are added."""
    group = commands.add_parser(name, help=help_text, description=_sentence(help_text))
    return group.add_subparsers(dest="action", required=True, metavar="ACTION")


def add_action(
    actions: Subcommands, name: str, help_text: str, handler: Handler
) -> argparse.ArgumentParser:
    """A ``driftctl <group> <name> [--config FILE]`` action that runs ``handler``."""
    parser = actions.add_parser(name, help=help_text, description=_sentence(help_text))
    add_config_option(parser)
    parser.set_defaults(handler=handler)
    return parser
