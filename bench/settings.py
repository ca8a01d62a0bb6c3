"""Command line of the benchmark."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.report import DRIFT, REFERENCE, Pick

__all__ = ["Settings", "parse_settings"]

# Stores live on the repository's disk (never a tmpfs /tmp); bench/results/ is git-ignored.
DEFAULT_TMP_DIR: Final = Path(__file__).resolve().parent / "results"
_UNITS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SIZE: Final = re.compile(r"^(\d+)\s*([kmg]?)(i?b)?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Settings:
    size: int
    rounds: int
    wrk_seconds: float
    sha_bytes: int
    workers: int
    servers: tuple[str, ...]
    pick: Pick
    json_out: Path | None
    tmp_dir: Path
    drift_env: dict[str, str]
    keep: bool
    ops_overhead: bool = False
    s3: bool = False
    h3: bool = False
    datagram_sizes: tuple[int, ...] = ()  # --h3: empty means 1350 and the largest loopback allows


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if match is None or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"expected a size such as 512MiB, 64M or 1G, got {text!r}")
    return int(match[1]) * _UNITS[match[2].lower()]


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Drift vs the reference registry (CNCF distribution) on loopback, "
        "interleaved, with this machine's ceiling (nginx sendfile, sha256 of one core).",
    )
    parser.add_argument("--quick", action="store_true", help="64 MiB blob, 2 rounds, 2 s wrk")
    parser.add_argument("--size", type=parse_size, help="blob size (default 512MiB)")
    parser.add_argument("--rounds", type=int, help="rounds per figure (default 3)")
    parser.add_argument("--wrk-seconds", type=float, help="duration of each wrk run (default 5)")
    parser.add_argument("--workers", type=int, help="DRIFT_WORKERS (default: cores; 1 with --h3)")
    parser.add_argument("--only", choices=(DRIFT, REFERENCE), help="run one registry only")
    parser.add_argument(
        "--pick",
        type=Pick,
        choices=list(Pick),
        default=Pick.BEST,
        help="which round each figure reports (default best)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write raw results as JSON")
    parser.add_argument(
        "--tmp-dir",
        type=Path,
        default=DEFAULT_TMP_DIR,
        help="parent of the scratch directory (default bench/results/)",
    )
    parser.add_argument(
        "--drift-env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for Drift (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--ops-overhead",
        action="store_true",
        help="only measure what metrics + access log cost on manifest GET (on vs off)",
    )
    parser.add_argument(
        "--s3",
        action="store_true",
        help="S3 mode: Drift and the reference on one SeaweedFS (push, pull redirect and "
        "proxied, memory of 8 concurrent uploads)",
    )
    parser.add_argument(
        "--h3",
        action="store_true",
        help="HTTP/3 mode: Drift's QUIC listener against a minimal aioquic server, beside "
        "Drift's HTTPS/1.1, per datagram size (bench.h3.run; 2 rounds unless --rounds)",
    )
    parser.add_argument(
        "--datagram-size",
        type=int,
        action="append",
        default=[],
        metavar="BYTES",
        help="with --h3: a QUIC datagram size to measure (repeatable; default 1350 and the "
        "largest loopback allows)",
    )
    return parser


def parse_settings(argv: Sequence[str] | None = None) -> Settings:
    parser = _parser()
    args = parser.parse_args(argv)
    size = args.size or (64 << 20 if args.quick else 512 << 20)
    rounds = args.rounds or (2 if args.quick or args.h3 else 3)
    workers = args.workers
    if workers is None:  # one QUIC connection is served by one process
        workers = 1 if args.h3 else os.cpu_count() or 1
    if rounds < 1 or workers < 1:
        parser.error("--rounds and --workers must be at least 1")
    return Settings(
        size=size,
        rounds=rounds,
        wrk_seconds=args.wrk_seconds or (2.0 if args.quick else 5.0),
        sha_bytes=256 << 20 if args.quick else 1 << 30,
        workers=workers,
        servers=(args.only,) if args.only else (DRIFT, REFERENCE),
        pick=args.pick,
        json_out=args.json,
        tmp_dir=args.tmp_dir,
        drift_env=dict(args.drift_env),
        keep=args.keep,
        ops_overhead=args.ops_overhead,
        s3=args.s3,
        h3=args.h3,
        datagram_sizes=tuple(args.datagram_size),
    )
