"""Graceful shutdown of one worker: stop request, drain period, then the deadline for requests.

The sequence on SIGTERM (what systemd, Docker and Kubernetes send):

1. drain: ``/readyz`` answers 503 and every response closes its connection, while the listener
   still accepts, for ``server.drain_seconds``, so that load balancers and orchestrators move new
   traffic elsewhere before anything is refused;
2. the listener closes and idle keep-alive connections are dropped;
3. in-flight requests get ``server.shutdown_timeout`` to finish; what still runs is then cancelled
   (an upload keeps the data it received: the client resumes from its ``Range``);
4. the worker exits with status 0.

SIGINT (Ctrl-C), also during the drain, and the disappearance of the supervisor skip the drain:
steps 2 to 4 only. Repeated signals change nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Final

from drift.config.settings import ServerSettings

__all__ = ["STOP_SIGNALS", "StopRequest", "stop_grace_seconds"]

STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
# What the supervisor allows beyond drain + deadline (cancelling, closing storage) before SIGKILL.
_WIND_DOWN_SECONDS: Final = 10


def stop_grace_seconds(server: ServerSettings) -> int:
    """How long a worker may take from SIGTERM to exit; TimeoutStopSec must exceed it."""
    return server.drain_seconds + server.shutdown_timeout_seconds + _WIND_DOWN_SECONDS


class StopRequest:
    """The stop signals of one event loop: when to stop, and whether to drain first."""

    def __init__(self) -> None:
        self._requested = asyncio.Event()
        self._urgent = asyncio.Event()

    def install(self, parent_fd: int | None) -> None:
        """Listen for the stop signals and, with ``parent_fd``, for EOF on the supervisor's pipe."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.trigger, True)
        loop.add_signal_handler(signal.SIGINT, self.trigger, False)
        if parent_fd is not None:

            def supervisor_gone() -> None:
                loop.remove_reader(parent_fd)  # EOF stays readable: watch it once
                self.trigger(drain=False)

            loop.add_reader(parent_fd, supervisor_gone)

    def trigger(self, drain: bool) -> None:
        if not drain:
            self._urgent.set()
        self._requested.set()

    async def wait(self) -> None:
        await self._requested.wait()

    async def drain(self, seconds: float) -> None:
        """Sleep through the drain period; no drain, or its end, on an urgent stop."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._urgent.wait(), seconds)
