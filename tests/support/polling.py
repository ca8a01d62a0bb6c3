"""Waiting for a condition that another process or thread makes true."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["eventually"]


def eventually(condition: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Return once ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not met within {timeout:.0f} s: {what or condition}"
        time.sleep(0.02)
