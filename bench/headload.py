"""HEAD request rates in wrk's shape: 32 keep-alive connections over 2 processes, closed loop.

`run_head_load` starts the processes (`python -m bench.headload URL CONNECTIONS SECONDS HEADERS`);
each connects, says `ready`, waits for `go` on stdin, and prints its tally as one JSON line.

A HEAD response is a bare header block (RFC 9110 section 9.3.2), so each `CRLFCRLF` that arrives
completes one request: the client does no parsing beyond that and the status code.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast
from urllib.parse import urlsplit

import uvloop

from bench.load import CONNECTIONS, THREADS, LoadError, LoadResult, percentile

__all__ = ["run_head_load"]

_END_OF_HEAD: Final = b"\r\n\r\n"
_REPO_ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(slots=True)
class _Tally:
    deadline: float
    latencies: list[float] = field(default_factory=list)
    non_2xx: int = 0
    socket_errors: int = 0
    reconnects: int = 0
    last_reply: float = 0.0


class _HeadLoop(asyncio.Protocol):
    def __init__(self, request: bytes, tally: _Tally, lost: asyncio.Future[None]) -> None:
        self._request = request
        self._tally = tally
        self._lost = lost
        self._pending = b""
        self._sent_at = 0.0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def fire(self) -> None:
        assert self._transport is not None
        self._sent_at = time.perf_counter()
        self._transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._pending += data
        while (end := self._pending.find(_END_OF_HEAD)) >= 0:
            if not self._pending.startswith(b"HTTP/1.1 2", 0):
                self._tally.non_2xx += 1
            self._pending = self._pending[end + len(_END_OF_HEAD) :]
            now = time.perf_counter()
            self._tally.latencies.append(now - self._sent_at)
            self._tally.last_reply = now
            if now < self._tally.deadline:
                self.fire()
            elif self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and time.perf_counter() < self._tally.deadline:
            self._tally.socket_errors += 1
        if not self._lost.done():
            self._lost.set_result(None)


@dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    request: bytes
    tally: _Tally


async def _connect(target: _Target) -> tuple[_HeadLoop, asyncio.Future[None]]:
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[None] = loop.create_future()
    _, protocol = await loop.create_connection(
        functools.partial(_HeadLoop, target.request, target.tally, lost), target.host, target.port
    )
    return protocol, lost


async def _keep_busy(target: _Target, protocol: _HeadLoop, lost: asyncio.Future[None]) -> None:
    """One request in flight until the deadline; a connection the server closes is replaced."""
    while True:
        protocol.fire()
        await lost
        if time.perf_counter() >= target.tally.deadline:
            return
        target.tally.reconnects += 1
        protocol, lost = await _connect(target)


async def _drive(target: _Target, connections: int, seconds: float) -> None:
    connected = [await _connect(target) for _ in range(connections)]
    print("ready", flush=True)
    sys.stdin.readline()  # the parent says go once every process is connected
    began = time.perf_counter()
    target.tally.deadline = began + seconds
    busy = (_keep_busy(target, protocol, lost) for protocol, lost in connected)
    await asyncio.wait_for(asyncio.gather(*busy), seconds + 30)
    tally = target.tally
    report = {
        "elapsed": tally.last_reply - began,
        "latencies_ms": [round(t * 1e3, 4) for t in tally.latencies],
        "non_2xx": tally.non_2xx,
        "socket_errors": tally.socket_errors,
    }
    print(json.dumps(report), flush=True)


def _request(url: str, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    lines = [f"HEAD {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _expect_line(process: subprocess.Popen[str], url: str) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise LoadError(f"HEAD load process on {url} exited {process.wait()}")
    return line


def run_head_load(url: str, seconds: float, headers: dict[str, str]) -> LoadResult:
    """Run THREADS processes of CONNECTIONS/THREADS connections each, started together."""
    command = [sys.executable, "-m", "bench.headload", url, str(CONNECTIONS // THREADS)]
    command += [str(seconds), json.dumps(headers)]
    processes = [
        subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=_REPO_ROOT
        )
        for _ in range(THREADS)
    ]
    try:
        for process in processes:
            _expect_line(process, url)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = [json.loads(_expect_line(process, url)) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    latencies = sorted(ms for report in reports for ms in report["latencies_ms"])
    if not latencies:
        raise LoadError(f"no HEAD response from {url}")
    return LoadResult(
        tool="bench.headload",
        requests_per_s=sum(len(r["latencies_ms"]) / r["elapsed"] for r in reports),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        requests=len(latencies),
        non_2xx=sum(r["non_2xx"] for r in reports),
        socket_errors=sum(r["socket_errors"] for r in reports),
    )


def main(argv: list[str]) -> None:
    url, connections, seconds, headers = argv
    parts = urlsplit(url)
    request = _request(url, json.loads(headers))
    target = _Target(parts.hostname or "127.0.0.1", parts.port or 80, request, _Tally(float("inf")))
    uvloop.run(_drive(target, int(connections), float(seconds)))


if __name__ == "__main__":
    main(sys.argv[1:])
