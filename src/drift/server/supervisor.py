"""The supervisor: binds one SO_REUSEPORT socket per worker, forks the workers, restarts them.

The kernel spreads incoming connections over the workers' sockets, so every core serves. Each
worker holds the read end of a pipe whose write end only the supervisor keeps: if the supervisor
dies, the workers see EOF and stop instead of lingering.

On SIGTERM or SIGINT the supervisor passes the signal on (workers then drain and finish their
requests, see ``drift.server.shutdown``), closes its own copies of the listening sockets (so that
the last worker to close one really stops listening) and SIGKILLs what still runs after
``stop_grace_seconds``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from drift.config.settings import Settings
from drift.server.shutdown import STOP_SIGNALS, stop_grace_seconds
from drift.server.worker import run_worker

__all__ = ["bind_socket", "bind_udp_socket", "supervise"]

_log = logging.getLogger(__name__)
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


def bind_udp_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """The QUIC listener's socket; with ``reuse_port`` the kernel hashes each client's address
    and port onto one of the sockets bound to the port, so a connection stays on one worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


@dataclass
class _Workers:
    settings: Settings
    secret: bytes
    sockets: list[socket.socket]
    quic_sockets: list[socket.socket]  # one per worker, or none when QUIC is off
    pids: dict[int, int] = field(default_factory=dict)  # pid -> worker index
    lifelines: dict[int, int] = field(default_factory=dict)  # worker index -> pipe write end
    stopping: bool = False
    killed: bool = False

    def spawn(self, index: int) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(write_fd)
            for lifeline in self.lifelines.values():
                os.close(lifeline)
            code = 0
            try:
                for signum in STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                quic = self.quic_sockets[index] if self.quic_sockets else None
                for sock in self.sockets + self.quic_sockets:
                    if sock not in (self.sockets[index], quic):
                        sock.close()
                run_worker(
                    self.settings, self.sockets[index], self.secret, index, read_fd, quic_sock=quic
                )
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

    def stop(self, signum: int) -> None:
        if not self.stopping:
            self.stopping = True
            for sock in self.sockets + self.quic_sockets:
                sock.close()
            signal.signal(signal.SIGALRM, lambda *_: self.kill_all())
            signal.setitimer(signal.ITIMER_REAL, stop_grace_seconds(self.settings.server))
        self.signal_all(signum)

    def kill_all(self) -> None:
        _log.error("workers still running after the shutdown deadline: killing them")
        self.killed = True
        self.signal_all(signal.SIGKILL)


def _reap() -> tuple[int, int] | None:
    """The next child to exit (blocking), or None when there are none left."""
    try:
        return os.waitpid(-1, 0)
    except ChildProcessError:
        return None


def supervise(
    settings: Settings,
    secret: bytes,
    sockets: list[socket.socket],
    on_worker_exit: Callable[[int], None] | None = None,
    quic_sockets: list[socket.socket] | None = None,
) -> int:
    """Run the workers until a stop signal; exit status 0 when they all stopped in time.

    ``on_worker_exit(pid)`` runs after each worker exited (before any restart).
    """
    workers = _Workers(settings, secret, sockets, quic_sockets or [])
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda received, _: workers.stop(received))
    for index in range(len(sockets)):
        workers.spawn(index)
    _log.info("serving with %d worker processes", len(sockets))
    while workers.pids:
        reaped = _reap()  # a stop signal's handler runs meanwhile; waitpid then goes on waiting
        if reaped is None:
            break
        pid, status = reaped
        worker_index = workers.pids.pop(pid, None)
        if worker_index is not None and on_worker_exit is not None:
            on_worker_exit(pid)
        if worker_index is None or workers.stopping:
            continue
        _log.error(
            "worker %d (pid %d) exited with status %d; restarting", worker_index, pid, status
        )
        time.sleep(_RESTART_BACKOFF)
        if not workers.stopping:
            workers.spawn(worker_index)
    signal.setitimer(signal.ITIMER_REAL, 0)
    for sock in workers.sockets + workers.quic_sockets:
        sock.close()
    _log.info("stopped")
    return 1 if workers.killed else 0
