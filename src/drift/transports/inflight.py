"""Counting the requests a transport is serving, so that a shutdown can wait for them."""

from __future__ import annotations

import asyncio

__all__ = ["InFlight"]


class InFlight:
    """The number of requests in progress on one event loop."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def settled(self, seconds: float) -> bool:
        """Wait until no request is in progress; False when ``seconds`` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True
