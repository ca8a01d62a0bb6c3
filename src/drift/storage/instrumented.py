"""A driver that wraps any other and reports each operation's latency and failure.

The registry services talk to it exactly as to the driver it wraps, so no driver needs its own
instrumentation. A missing path is an answer, not a failure. A stream (``read_stream``, ``walk``)
is one operation whose latency is the time to its first item and which failed if it raised at
any point; a writer's ``write``, ``commit`` and ``cancel`` are operations of their own.

Every call and every failure is counted, and every call is timed except ``get_content`` under
load: it reads the links of every manifest and blob request, and timing each of those calls
costs about 1% of the manifest GET rate. Within one publication interval of the observer, its
first ``_TIMED_FIRST`` calls are timed, then one in ``_TIMED_EVERY``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable
from time import perf_counter
from types import TracebackType
from typing import Final, Protocol, TypeVar

from drift.storage.driver import (
    DirectWriter,
    FileInfo,
    FileWriter,
    PathNotFoundError,
    StorageDriver,
)

__all__ = ["InstrumentedDriver", "OperationObserver"]

T = TypeVar("T")

_TIMED_FIRST: Final = 64  # get_content sampling (see above)
_TIMED_EVERY: Final = 16


class OperationTally(Protocol):
    """Calls and timed observations of one operation. ``record`` counts a timed call; a hot
    path may count itself: ``calls += 1`` for every call, ``errors += 1`` for a failure, and
    for a timed one ``buckets[bisect_left(bounds, seconds)] += 1`` and ``seconds += seconds``.
    The observer resets the tally when it publishes it."""

    @property
    def bounds(self) -> tuple[float, ...]: ...

    buckets: list[int]
    seconds: float
    errors: int
    calls: int

    def record(self, seconds: float, failed: bool) -> None: ...


def _is_failure(exc: BaseException) -> bool:
    """A cancellation is not a storage failure, nor is a missing path."""
    return isinstance(exc, Exception) and not isinstance(exc, PathNotFoundError)


class OperationObserver(Protocol):
    def storage_tally(self, driver: str, operation: str) -> OperationTally: ...


class _Measurement:
    """Times one operation as a context manager (no extra coroutine on the hot path)."""

    __slots__ = ("_started", "_tally")

    def __init__(self, tally: OperationTally) -> None:
        self._tally = tally
        self._started = perf_counter()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failed = exc is not None and _is_failure(exc)
        self._tally.record(perf_counter() - self._started, failed)


class _Timing:
    __slots__ = ("_driver", "_observer", "_tallies")

    def __init__(self, driver: str, observer: OperationObserver) -> None:
        self._driver = driver
        self._observer = observer
        self._tallies: dict[str, OperationTally] = {}

    def tally(self, operation: str) -> OperationTally:
        tally = self._tallies.get(operation)
        if tally is None:
            tally = self._tallies[operation] = self._observer.storage_tally(self._driver, operation)
        return tally

    def measure(self, operation: str) -> _Measurement:
        return _Measurement(self.tally(operation))

    async def call(self, operation: str, call: Awaitable[T]) -> T:
        with self.measure(operation):
            return await call

    async def stream(self, operation: str, items: AsyncIterator[T]) -> AsyncIterator[T]:
        started = perf_counter()
        latency: float | None = None
        failed = False
        try:
            async for item in items:
                if latency is None:
                    latency = perf_counter() - started
                yield item
        except PathNotFoundError:
            raise
        except Exception:
            failed = True
            raise
        finally:
            if latency is None:
                latency = perf_counter() - started
            self.tally(operation).record(latency, failed)


class _InstrumentedWriter(FileWriter):
    def __init__(self, inner: FileWriter, timing: _Timing) -> None:
        self._inner = inner
        self._timing = timing

    @property
    def size(self) -> int:
        return self._inner.size

    async def expect(self, count: int | None) -> None:
        await self._inner.expect(count)

    async def write(self, data: bytes | memoryview) -> None:
        await self._timing.call("write", self._inner.write(data))

    async def commit(self) -> None:
        await self._timing.call("commit", self._inner.commit())

    async def cancel(self) -> None:
        await self._timing.call("cancel", self._inner.cancel())

    async def close(self) -> None:
        await self._inner.close()


class InstrumentedDriver(StorageDriver):
    def __init__(self, inner: StorageDriver, observer: OperationObserver) -> None:
        self.name = inner.name
        self.min_chunk_length = inner.min_chunk_length
        self._inner = inner
        self._timing = _Timing(inner.name, observer)
        self._get_content = self._timing.tally("get_content")  # per request: bound once

    async def get_content(self, path: str) -> bytes:
        # Every manifest and blob request reads links, so this is the one hot operation: timed
        # inline (no helper call), and under load only sampled. Calls and errors are all counted.
        tally = self._get_content
        calls = tally.calls = tally.calls + 1
        if calls > _TIMED_FIRST and calls % _TIMED_EVERY:
            try:
                return await self._inner.get_content(path)
            except Exception as exc:
                if not isinstance(exc, PathNotFoundError):
                    tally.errors += 1
                raise
        started = perf_counter()
        try:
            content = await self._inner.get_content(path)
        except BaseException as exc:
            seconds = perf_counter() - started
            tally.buckets[bisect_left(tally.bounds, seconds)] += 1
            tally.seconds += seconds
            if _is_failure(exc):
                tally.errors += 1
            raise
        seconds = perf_counter() - started
        tally.buckets[bisect_left(tally.bounds, seconds)] += 1
        tally.seconds += seconds
        return content

    async def put_content(self, path: str, data: bytes) -> None:
        await self._timing.call("put_content", self._inner.put_content(path, data))

    def read_stream(
        self, path: str, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        chunks = self._inner.read_stream(path, offset, length, chunk_size)
        return self._timing.stream("read_stream", chunks)

    async def writer(self, path: str, append: bool) -> FileWriter:
        inner = await self._timing.call("writer", self._inner.writer(path, append))
        return _InstrumentedWriter(inner, self._timing)

    async def stat(self, path: str) -> FileInfo:
        return await self._timing.call("stat", self._inner.stat(path))

    async def list(self, path: str) -> list[str]:
        return await self._timing.call("list", self._inner.list(path))

    async def move(self, source: str, dest: str) -> None:
        await self._timing.call("move", self._inner.move(source, dest))

    async def delete(self, path: str) -> None:
        await self._timing.call("delete", self._inner.delete(path))

    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        return self._timing.stream("walk", self._inner.walk(path))

    def direct_writer(self, path: str, size: int | None = None) -> DirectWriter | None:
        return self._inner.direct_writer(path, size)

    def local_path(self, path: str) -> str | None:
        return self._inner.local_path(path)

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        return await self._inner.redirect_url(path, method)

    async def purge_incomplete(self, older_than: dt.timedelta) -> int:
        return await self._inner.purge_incomplete(older_than)

    async def prepare(self) -> None:
        await self._inner.prepare()

    async def close(self) -> None:
        await self._inner.close()
