"""Parallel blob pulls by raw sockets that discard the body: no per-chunk Python work.

Every stream connects first; all requests then go out together behind a barrier, and the
aggregate rate is the bytes received over the time from the barrier to the last byte.
Each stream reads with `recv_into` on one large buffer, which releases the GIL, so the reader
threads cost little more than the kernel copy itself.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Final

__all__ = ["PullError", "PullResult", "pull"]

_BUFFER_BYTES: Final = 4 << 20
_HEAD_LIMIT: Final = 64 << 10


class PullError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class PullResult:
    streams: int
    bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


def _read_response(sock: socket.socket, buffer: bytearray) -> int:
    """Read one response; return the body size. The body is counted, never kept."""
    view = memoryview(buffer)
    received = 0
    while (end := bytes(view[:received]).find(b"\r\n\r\n")) < 0:
        if received >= _HEAD_LIMIT:
            raise PullError("response head too large")
        n = sock.recv_into(view[received:_HEAD_LIMIT])
        if not n:
            raise PullError("connection closed before the response head")
        received += n
    status, headers = _parse_head(bytes(view[:end]))
    if status != 200:
        raise PullError(f"GET answered {status} {headers}")
    if "content-length" not in headers:
        raise PullError(f"GET answered without Content-Length: {headers}")
    length = int(headers["content-length"])
    got = received - (end + 4)
    while got < length:
        n = sock.recv_into(view)
        if not n:
            break
        got += n
    if got != length:
        raise PullError(f"body of {got} bytes, Content-Length {length}")
    return got


class _Stream(threading.Thread):
    def __init__(self, host: str, port: int, target: str, start: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self._sock = socket.create_connection((host, port))
        self._request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        ).encode()
        self._start = start
        self.received = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        buffer = bytearray(_BUFFER_BYTES)
        try:
            self._start.wait()
            self._sock.sendall(self._request)
            self.received = _read_response(self._sock, buffer)
        except BaseException as exc:  # reported by pull() in the main thread
            self.error = exc
        finally:
            self._sock.close()


def pull(host: str, port: int, target: str, streams: int, expected_size: int) -> PullResult:
    start = threading.Barrier(streams + 1)
    workers = [_Stream(host, port, target, start) for _ in range(streams)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - began
    for worker in workers:
        if worker.error is not None:
            raise PullError(f"pull of {target}: {worker.error}") from worker.error
        if worker.received != expected_size:
            raise PullError(f"pull of {target}: {worker.received} bytes, want {expected_size}")
    return PullResult(streams, streams * expected_size, seconds)
