"""Failed-login throttling per client address and per user name.

After ``limit`` failures within ``window`` seconds for the same user name, or ``limit`` times
``_ADDRESS_FACTOR`` for the same address (several people may share one), further attempts are
refused with 429 and ``Retry-After`` before any password is checked, until the oldest failure
leaves the window. A success clears the user's failures. Counting is per worker process, so a
deployment with N processes allows at most N times as many guesses; that keeps the limiter free of
shared state while still cutting a brute force down to a handful of guesses per minute.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Final

__all__ = ["LoginLimiter"]

_ADDRESS_FACTOR: Final = 3
_MAX_KEYS: Final = 100_000


class LoginLimiter:
    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = {"user": limit, "addr": limit * _ADDRESS_FACTOR}
        self._window = window
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, user: str | None, addr: str | None) -> int | None:
        """Seconds to wait before trying again, or None when an attempt may go ahead."""
        now = self._clock()
        waits = [self._wait(key, now) for key in self._keys(user, addr)]
        wait = max((w for w in waits if w is not None), default=None)
        return None if wait is None else max(1, math.ceil(wait))

    def failed(self, user: str | None, addr: str | None) -> None:
        now = self._clock()
        if len(self._failures) >= _MAX_KEYS:
            self._forget_expired(now)
        for key in self._keys(user, addr):
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str | None) -> None:
        if user:
            self._failures.pop(("user", user), None)

    def _keys(self, user: str | None, addr: str | None) -> list[tuple[str, str]]:
        keys = [("user", user)] if user else []
        if addr:
            keys.append(("addr", addr))
        return keys

    def _wait(self, key: tuple[str, str], now: float) -> float | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        limit = self._limits[key[0]]
        if len(times) < limit:
            return None
        return times[len(times) - limit] + self._window - now

    def _forget_expired(self, now: float) -> None:
        for key in list(self._failures):
            self._wait(key, now)
        if len(self._failures) >= _MAX_KEYS:  # an address flood: keep the per-user counts
            for key in [k for k in self._failures if k[0] == "addr"]:
                del self._failures[key]
