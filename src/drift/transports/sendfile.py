"""Zero-copy file sends on plain TCP, whichever event loop runs.

uvloop transports offer no ``loop.sendfile`` (aiohttp then falls back to read-and-write), so Drift
sends file regions itself: the socket is duplicated (the duplicate stays valid even if the
transport closes its descriptor meanwhile) and a dedicated thread runs ``os.sendfile`` on it,
waiting for writability with ``poll`` when the socket buffer is full. The event loop never blocks
and the bytes never enter user space.
"""

from __future__ import annotations

import asyncio
import os
import select
from concurrent.futures import ThreadPoolExecutor
from typing import Final

__all__ = ["send_file_region"]

_IDLE_TIMEOUT_MS: Final = 60_000  # a client that reads nothing for this long is dropped
_MAX_PER_CALL: Final = 1 << 30
_senders: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    pid = os.getpid()  # threads do not survive fork: one pool per worker process
    pool = _senders.get(pid)
    if pool is None:
        _senders.clear()
        pool = _senders[pid] = ThreadPoolExecutor(max_workers=64, thread_name_prefix="drift-send")
    return pool


def _send_blocking(socket_fd: int, path: str, offset: int, count: int) -> None:
    file_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(socket_fd, select.POLLOUT)
        while count > 0:
            try:
                sent = os.sendfile(socket_fd, file_fd, offset, min(count, _MAX_PER_CALL))
            except BlockingIOError:
                if not poller.poll(_IDLE_TIMEOUT_MS):
                    raise TimeoutError("client stopped reading") from None
                continue
            if sent == 0:
                raise ConnectionResetError("file shrank or connection closed during sendfile")
            offset += sent
            count -= sent
    finally:
        os.close(file_fd)
        os.close(socket_fd)


async def send_file_region(socket_fd: int, path: str, offset: int, count: int) -> None:
    """Send ``count`` bytes of ``path`` from ``offset`` on the connected socket ``socket_fd``.

    The caller must have flushed everything queued on the transport before.
    """
    duplicate = os.dup(socket_fd)
    try:
        future = asyncio.get_running_loop().run_in_executor(
            _pool(), _send_blocking, duplicate, path, offset, count
        )
    except BaseException:
        os.close(duplicate)
        raise
    await future
