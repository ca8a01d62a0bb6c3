"""The ``drift`` command: ``drift serve [--config FILE]`` runs the registry."""

from __future__ import annotations

import argparse

from drift import __version__
from drift.cli.common import add_config_option, run_with_settings
from drift.config.settings import Settings

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drift", description="Drift, an OCI container registry.")
    parser.add_argument("--version", action="version", version=f"drift {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the registry",
        description="Run the registry API (HTTP/1.1, plus HTTPS when a certificate is set).",
    )
    add_config_option(serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_with_settings(args, _serve)


def _serve(settings: Settings) -> int:
    from drift.server.run import serve  # noqa: PLC0415 - keeps `drift --help` cheap

    return serve(settings)
