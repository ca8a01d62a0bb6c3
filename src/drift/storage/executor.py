"""The bounded thread pool that runs every blocking filesystem call off the event loop.

Worker processes are forked from the supervisor, and the threads of a pool do not survive a fork,
so each process lazily creates its own pool (keyed by ``os.getpid()``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar, TypeVarTuple

__all__ = ["MAX_THREADS", "run_blocking", "shutdown"]

MAX_THREADS: Final = 16

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _reset_lock_after_fork() -> None:
    global _lock  # noqa: PLW0603 - another thread may have held the parent's lock at fork time
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_after_fork)


def _pool() -> ThreadPoolExecutor:
    pid = os.getpid()
    pool = _pools.get(pid)
    if pool is not None:
        return pool
    with _lock:
        pool = _pools.get(pid)
        if pool is None:
            _pools.clear()  # a forked child inherits the parent's pool but none of its threads
            pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="drift-storage")
            _pools[pid] = pool
        return pool


def run_blocking(fn: Callable[[*_Ts], _T], *args: *_Ts) -> asyncio.Future[_T]:
    """Run ``fn(*args)`` in this process's storage pool; await the result."""
    return asyncio.get_running_loop().run_in_executor(_pool(), fn, *args)


def shutdown(wait: bool = True) -> None:
    """Stop this process's pool (a new one is created on the next ``run_blocking``)."""
    with _lock:
        pool = _pools.pop(os.getpid(), None)
    if pool is not None:
        pool.shutdown(wait=wait)
