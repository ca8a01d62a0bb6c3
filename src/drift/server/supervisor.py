"""The supervisor: binds one SO_REUSEPORT socket per worker, forks the workers, restarts them.

The kernel spreads incoming connections over the workers' sockets, so every core serves. Each
worker holds the read end of a pipe whose write end only the supervisor keeps: if the supervisor
dies, the workers see EOF and stop instead of lingering.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Final

from drift.config.settings import Settings
from drift.server.worker import run_worker

__all__ = ["bind_socket", "supervise"]

_log = logging.getLogger(__name__)
_STOP_GRACE: Final = 35.0
_RESTART_BACKOFF: Final = 1.0


def bind_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass
class _Workers:
    settings: Settings
    secret: bytes
    sockets: list[socket.socket]
    pids: dict[int, int] = field(default_factory=dict)  # pid -> worker index
    lifelines: dict[int, int] = field(default_factory=dict)  # worker index -> pipe write end
    stopping: bool = False

    def spawn(self, index: int) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(write_fd)
            for lifeline in self.lifelines.values():
                os.close(lifeline)
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                for other, sock in enumerate(self.sockets):
                    if other != index:
                        sock.close()
                run_worker(self.settings, self.sockets[index], self.secret, index, read_fd)
            except BaseException:
                _log.exception("worker %d crashed", index)
                code = 1
            finally:
                os._exit(code)
        os.close(read_fd)
        previous = self.lifelines.pop(index, None)
        if previous is not None:
            os.close(previous)
        self.lifelines[index] = write_fd  # never written; closing it (or dying) means "stop"
        self.pids[pid] = index

    def signal_all(self, signum: int) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def reap(self, block: bool) -> tuple[int, int] | None:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        return pid, status


def supervise(settings: Settings, secret: bytes, sockets: list[socket.socket]) -> int:
    workers = _Workers(settings, secret, sockets)

    def on_stop(signum: int, frame: object) -> None:
        del signum, frame
        workers.stopping = True
        workers.signal_all(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    for index in range(len(sockets)):
        workers.spawn(index)
    _log.info("serving with %d worker processes", len(sockets))
    deadline: float | None = None
    while workers.pids:
        reaped = workers.reap(block=not workers.stopping)
        if reaped is None:
            if workers.stopping:
                deadline = deadline or time.monotonic() + _STOP_GRACE
                if time.monotonic() > deadline:
                    workers.signal_all(signal.SIGKILL)
                time.sleep(0.05)
            continue
        pid, status = reaped
        worker_index = workers.pids.pop(pid) if pid in workers.pids else None
        if worker_index is None or workers.stopping:
            continue
        _log.error(
            "worker %d (pid %d) exited with status %d; restarting", worker_index, pid, status
        )
        time.sleep(_RESTART_BACKOFF)
        if not workers.stopping:
            workers.spawn(worker_index)
    for sock in sockets:
        sock.close()
    _log.info("stopped")
    return 0
