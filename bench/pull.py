"""Parallel blob pulls by raw sockets that discard the body: no per-chunk Python work.

Every stream connects first; all requests then go out together behind a barrier, and the
aggregate rate is the bytes received over the time from the barrier to the last byte.
Each stream reads with `recv_into` on one large buffer, which releases the GIL, so the reader
threads cost little more than the kernel copy itself. A redirect (307 to a presigned S3 URL) is
followed on a new connection, within the timed section, as a client would.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = ["PullError", "PullResult", "pull"]

_BUFFER_BYTES: Final = 4 << 20
_HEAD_LIMIT: Final = 64 << 10
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


class PullError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class PullResult:
    streams: int
    bytes: int
    seconds: float
    redirected: int = 0  # streams that followed a redirect

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


def _read_head(sock: socket.socket, view: memoryview) -> tuple[int, dict[str, str], int]:
    """Read a response head into ``view``: status, headers, and the body bytes read with it."""
    received = 0
    while (end := bytes(view[:received]).find(b"\r\n\r\n")) < 0:
        if received >= _HEAD_LIMIT:
            raise PullError("response head too large")
        n = sock.recv_into(view[received:_HEAD_LIMIT])
        if not n:
            raise PullError("connection closed before the response head")
        received += n
    status, headers = _parse_head(bytes(view[:end]))
    return status, headers, received - (end + 4)


def _read_body(sock: socket.socket, view: memoryview, headers: dict[str, str], got: int) -> int:
    """Read the rest of a body of ``Content-Length`` bytes; return its size. Counted, not kept."""
    if "content-length" not in headers:
        raise PullError(f"GET answered without Content-Length: {headers}")
    length = int(headers["content-length"])
    while got < length:
        n = sock.recv_into(view)
        if not n:
            break
        got += n
    if got != length:
        raise PullError(f"body of {got} bytes, Content-Length {length}")
    return got


def _request(authority: str, target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n".encode()


class _Stream(threading.Thread):
    def __init__(self, host: str, port: int, target: str, start: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self._sock = socket.create_connection((host, port))
        self._request = _request(f"{host}:{port}", target)
        self._start = start
        self.received = 0
        self.redirected = False
        self.error: BaseException | None = None

    def run(self) -> None:
        view = memoryview(bytearray(_BUFFER_BYTES))
        try:
            self._start.wait()
            self._sock.sendall(self._request)
            status, headers, got = _read_head(self._sock, view)
            if status in _REDIRECTS:
                self.redirected = True
                self._sock.close()
                status, headers, got = self._follow(headers.get("location", ""), view)
            if status != 200:
                raise PullError(f"GET answered {status} {headers}")
            self.received = _read_body(self._sock, view, headers, got)
        except BaseException as exc:  # reported by pull() in the main thread
            self.error = exc
        finally:
            self._sock.close()

    def _follow(self, location: str, view: memoryview) -> tuple[int, dict[str, str], int]:
        url = urlsplit(location)
        if url.scheme != "http" or url.hostname is None:
            raise PullError(f"cannot follow a redirect to {location!r}")
        self._sock = socket.create_connection((url.hostname, url.port or 80))
        target = f"{url.path}?{url.query}" if url.query else url.path
        self._sock.sendall(_request(url.netloc, target))  # the signed Host of a presigned URL
        return _read_head(self._sock, view)


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
    redirected = sum(worker.redirected for worker in workers)
    return PullResult(streams, streams * expected_size, seconds, redirected)
