"""``driftctl pull --http3``: what a Bolt node runs to fetch an image from a Drift registry.

A top-level command (no group): ``driftctl pull --http3 [REGISTRY/]REPO[:TAG|@DIGEST] --output
DIR``. It pulls over HTTP/3 into an OCI image layout (``drift.bolt``), the progress on stderr,
and prints the pulled manifest's digest alone on stdout. With ``--discover`` the registry is
the first Drift node that answers over mDNS on ``--interface``. Any failure is one line on
stderr and exit status 1 (2 for a usage error, 130 when interrupted).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from drift.cli.ctl.base import Subcommands, add_action
from drift.config.settings import Settings

if TYPE_CHECKING:  # drift.bolt (aioquic, aiohttp) loads only when a pull runs
    from drift.bolt import ConnectionOptions, Credentials, Endpoint, ImageReference, PullResult

__all__ = ["DEFAULT_PARALLEL", "register"]

DEFAULT_PARALLEL: Final = 8
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
_T = TypeVar("_T")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def register(commands: Subcommands) -> None:
    parser = add_action(
        commands, "pull", "pull an image over HTTP/3 into an OCI image layout (Bolt nodes)", _pull
    )
    parser.add_argument(
        "reference",
        metavar="[REGISTRY/]REPOSITORY[:TAG|@DIGEST]",
        help="REGISTRY is host[:port] of the registry's HTTP/3 (UDP) listener, port 4433 by "
        "default; it may be omitted with --discover; the tag defaults to latest",
    )
    parser.add_argument(
        "--http3",
        action="store_true",
        required=True,
        help="pull over HTTP/3 (QUIC), one connection for every request (required: the only "
        "transport driftctl pull speaks)",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        metavar="DIR",
        help="OCI image layout to write (created if missing; other images in it are kept)",
    )
    parser.add_argument(
        "--parallel",
        type=_positive,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help="blobs downloaded at once, each on its own stream (default: %(default)s)",
    )
    discovery = parser.add_argument_group("discovery")
    discovery.add_argument(
        "--discover",
        action="store_true",
        help="find the registry over mDNS (DNS-SD) and pull from the first one that answers",
    )
    discovery.add_argument(
        "--interface",
        default="",
        metavar="IF",
        help="with --discover: the interface to browse (a name such as eth0, or one of its IPv4 "
        "addresses; default: every interface)",
    )
    discovery.add_argument(
        "--domain", help="with --discover: only registries announcing this Bolt DNS domain"
    )
    discovery.add_argument(
        "--discover-timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="with --discover: how long to wait for an answer (default: %(default)s)",
    )
    trust = parser.add_argument_group(
        "certificate trust (one of; default: the system CAs, for the registry's host name)"
    ).add_mutually_exclusive_group()
    trust.add_argument(
        "--ca-file",
        type=Path,
        metavar="PEM",
        help="trust the CA certificates of this PEM file instead of the system CAs; the "
        "certificate must still name the registry host",
    )
    trust.add_argument(
        "--pin",
        metavar="sha256/BASE64",
        help="trust exactly the certificate whose public key (SPKI) has this SHA-256, as Drift "
        "logs it at start (its self-signed certificate); CA and host name are not checked",
    )
    trust.add_argument(
        "--insecure",
        action="store_true",
        help="accept any certificate without verification (tests only: anyone in the path "
        "can impersonate the registry)",
    )
    login = parser.add_argument_group("authentication (when the registry asks for it)")
    login.add_argument("--username", "-u", help="user name for Basic auth or the token realm")
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (or robot token) from stdin; needs --username",
    )


def _credentials(args: argparse.Namespace) -> Credentials | None:
    from drift.bolt import Credentials, PullError  # noqa: PLC0415

    if args.password_stdin and not args.username:
        raise PullError("--password-stdin needs --username")
    if args.username and not args.password_stdin:
        raise PullError(
            "--username needs --password-stdin (passwords never go on the command line)"
        )
    if not args.username:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise PullError("--password-stdin: no password on stdin")
    return Credentials(args.username, password)


async def _discover(args: argparse.Namespace) -> tuple[Endpoint, str]:
    """The first registry with an HTTP/3 endpoint on ``--interface``, and its host name."""
    from drift.bolt import Endpoint, PullError  # noqa: PLC0415
    from drift.discovery import MdnsError, discover  # noqa: PLC0415 - zeroconf only when asked

    where = f"interface {args.interface}" if args.interface else "every interface"
    try:
        found = await discover(args.interface, args.discover_timeout, args.domain, limit=1)
    except (MdnsError, OSError) as exc:
        raise PullError(f"mDNS discovery on {where} failed: {exc}") from None
    if not found:
        raise PullError(
            f"no Drift registry answered over mDNS on {where} within {args.discover_timeout:g} s"
        )
    registry = found[0]
    if registry.quic_port is None:
        raise PullError(f"registry {registry.instance!r} announces no HTTP/3 (QUIC) endpoint")
    print(
        f"discovered {registry.instance} at {registry.address}:{registry.quic_port}",
        file=sys.stderr,
    )
    return Endpoint(registry.address, registry.quic_port), registry.host.rstrip(".")


async def _run_pull(
    args: argparse.Namespace,
    reference: ImageReference,
    connection: ConnectionOptions,
    credentials: Credentials | None,
) -> PullResult:
    from drift.bolt import Progress, PullOptions, pull_image  # noqa: PLC0415

    if reference.registry is not None:
        endpoint = reference.registry
    else:
        endpoint, host = await _discover(args)
        connection = replace(connection, server_name=host or None)
    options = PullOptions(args.output, args.parallel, connection, credentials)
    progress = Progress(sys.stderr)
    result = await pull_image(reference, endpoint, options, progress)
    progress.close()
    return result


def _run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run on uvloop where it is installed (fewer cycles per QUIC packet), else asyncio."""
    from drift.storage import executor  # noqa: PLC0415

    try:
        import uvloop  # noqa: PLC0415 - optional on some platforms

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    finally:
        executor.shutdown(wait=True)


def _pull(settings: Settings, args: argparse.Namespace) -> int:
    del settings  # a client: only the logging settings (applied already) matter
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("quic").setLevel(logging.ERROR)  # aioquic logs per connection
    from drift.bolt import ConnectionOptions, PullError, Trust, parse_reference  # noqa: PLC0415

    try:
        reference = parse_reference(args.reference, registry_optional=args.discover)
        if reference.registry is not None and args.discover:
            print("driftctl pull: give either REGISTRY or --discover", file=sys.stderr)
            return EXIT_USAGE
        trust = Trust.from_options(args.ca_file, args.pin, args.insecure)
        credentials = _credentials(args)
        result = _run(_run_pull(args, reference, ConnectionOptions(trust=trust), credentials))
    except PullError as exc:
        print(f"driftctl pull: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # writing the layout: a full disk, a read-only directory...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"driftctl pull: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("driftctl pull: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(result.manifest.digest)
    return 0
