"""The storage executor: blocking calls leave the event loop, bounded, one pool per process."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from drift.storage import executor
from drift.storage.executor import MAX_THREADS, run_blocking


async def test_runs_off_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    assert await run_blocking(threading.get_ident) != loop_thread
    assert await run_blocking(divmod, 7, 2) == (3, 1)


async def test_propagates_exceptions() -> None:
    with pytest.raises(FileNotFoundError):
        await run_blocking(os.stat, "/nonexistent/drift/path")


async def test_concurrency_is_bounded() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0

    def blocking() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    await asyncio.gather(*(run_blocking(blocking) for _ in range(2 * MAX_THREADS)))
    assert peak == MAX_THREADS


async def test_shutdown_then_reuse() -> None:
    await run_blocking(time.sleep, 0)
    executor.shutdown()
    assert await run_blocking(os.getpid) == os.getpid()


async def pid_of_a_pool_thread() -> int:
    return await asyncio.wait_for(run_blocking(os.getpid), 5)


def test_a_forked_process_gets_its_own_pool() -> None:
    assert asyncio.run(pid_of_a_pool_thread()) == os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            signal.alarm(10)
            status = 0 if asyncio.run(pid_of_a_pool_thread()) == os.getpid() else 1
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
