"""The HTTP/3 clients of the benchmark, run as a process of their own (one per transfer).

``pull``: Bolt's HTTP/3 client (``drift.bolt.h3``, what ``driftctl pull --http3`` uses) GETs one
path on ``--streams`` concurrent streams of one QUIC connection and discards the bodies, read as
Bolt's downloader reads them (``READ_MIN``..``READ_MAX`` pieces). The connection is open before
the clock starts. Any server that answers a GET with the blob can be measured this way: Drift
and the minimal aioquic server alike.

``push``: an upload over HTTP/3 with the test suite's client (``tests.support.h3client``, Bolt
does not push): ``POST`` an upload session, then either one ``PUT ?digest=`` carrying the whole
blob (``monolithic``) or 8 MiB ``PATCH``es and a bodiless ``PUT`` (``chunked``). The blob (a
file prefix and a tail) is read into memory before the clock starts.

Both print one JSON line: ``{"bytes": ..., "seconds": ...}``. Pulls run on uvloop, as
``driftctl pull`` does; pushes on the stock loop, as the tests run that client (under uvloop its
unconnected socket lost about one handshake in seven here). Usage:
``python -m bench.h3.client pull|push --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Final

import uvloop

__all__ = ["main"]

CHUNK_BYTES: Final = 8 << 20
SERVER_NAME: Final = "localhost"  # in the test CA's server certificate


async def _fetch(response: Any) -> int:
    from drift.bolt.download import READ_MAX, READ_MIN  # noqa: PLC0415

    received = 0
    while data := await response.body.read(READ_MAX, READ_MIN):
        received += len(data)
    return received


async def _pull(args: argparse.Namespace) -> dict[str, float]:
    from drift.bolt.h3 import ConnectionOptions, H3Client  # noqa: PLC0415
    from drift.bolt.reference import Endpoint  # noqa: PLC0415
    from drift.bolt.trust import Trust  # noqa: PLC0415

    options = ConnectionOptions(
        trust=Trust.from_options(args.ca, None, False),
        server_name=SERVER_NAME,
        max_datagram_size=args.datagram_size,
    )
    client = await H3Client.open(Endpoint(args.host, args.port), options)
    try:
        began = time.perf_counter()
        responses = await asyncio.gather(
            *(client.request("GET", args.path) for _ in range(args.streams))
        )
        for response in responses:
            if response.status != 200:
                raise RuntimeError(f"GET {args.path} answered {response.status}")
        sizes = await asyncio.gather(*(_fetch(response) for response in responses))
        seconds = time.perf_counter() - began
    finally:
        client.shutdown()
    if any(size != args.size for size in sizes):
        raise RuntimeError(f"GET {args.path}: bodies of {sizes} bytes, want {args.size}")
    return {"bytes": sum(sizes), "seconds": seconds}


def _push(args: argparse.Namespace) -> dict[str, float]:
    from tests.support.h3client import H3Client  # noqa: PLC0415

    from bench.rawhttp import with_query  # noqa: PLC0415

    with args.file.open("rb") as source:
        data = source.read(args.file_size) + bytes.fromhex(args.tail)
    client = H3Client(
        args.host,
        args.port,
        cafile=str(args.ca),
        server_name=SERVER_NAME,
        max_datagram_size=args.datagram_size,
        timeout=args.timeout,
    )
    octets = {"content-type": "application/octet-stream"}
    try:
        began = time.perf_counter()
        reply = client.request("POST", f"/v2/{args.repo}/blobs/uploads/")
        location = _location(reply)
        if args.mode == "monolithic":
            reply = client.request(
                "PUT", with_query(location, digest=args.digest), body=data, headers=octets
            )
        else:
            for start in range(0, len(data), CHUNK_BYTES):
                piece = data[start : start + CHUNK_BYTES]
                headers = {**octets, "content-range": f"{start}-{start + len(piece) - 1}"}
                reply = client.request("PATCH", location, body=piece, headers=headers)
                location = _location(reply)
            reply = client.request("PUT", with_query(location, digest=args.digest))
        seconds = time.perf_counter() - began
    finally:
        client.close()
    _expect(reply, 201)
    if reply.header("docker-content-digest") != args.digest:
        raise RuntimeError(f"the upload committed {reply.header('docker-content-digest')}")
    return {"bytes": len(data), "seconds": seconds}


def _location(reply: Any) -> str:
    _expect(reply, 202)
    location: str | None = reply.header("location")
    if location is None:
        raise RuntimeError(f"{reply.method} answered 202 without a Location")
    return location


def _expect(reply: Any, status: int) -> None:
    if reply.status != status:
        raise RuntimeError(f"{reply.method} answered {reply.status}: {reply.body[:300]!r}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.h3.client")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("pull", "push"):
        command = commands.add_parser(name)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, required=True)
        command.add_argument("--ca", type=Path, required=True, help="PEM of the CA to trust")
        command.add_argument("--datagram-size", type=int, default=1350)
        command.add_argument("--timeout", type=float, default=900.0)
    pull = commands.choices["pull"]
    pull.add_argument("--path", required=True)
    pull.add_argument("--streams", type=int, default=1)
    pull.add_argument("--size", type=int, required=True, help="expected body size")
    push = commands.choices["push"]
    push.add_argument("--repo", required=True)
    push.add_argument("--file", type=Path, required=True)
    push.add_argument("--file-size", type=int, required=True, help="bytes of --file to send")
    push.add_argument("--tail", default="", help="hex bytes sent after them")
    push.add_argument("--digest", required=True)
    push.add_argument("--mode", choices=("monolithic", "chunked"), default="monolithic")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "pull":
        result = uvloop.run(asyncio.wait_for(_pull(args), args.timeout))
    else:
        result = _push(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
