"""A loopback relay that can stall: an upstream that stops answering without refusing.

While ``stall()`` is in force the relay still accepts connections but forwards no byte in
either direction, which is what an overloaded or half-dead S3 endpoint looks like to a client
(unlike a stopped one, which refuses connections at once). ``resume()`` closes the connections
that stalled and relays again. The relay is the wiretap's (its requests are recorded too).
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.wiretap import READ_SIZE, Wiretap

__all__ = ["StallProxy"]


class StallProxy(Wiretap):
    """Relays 127.0.0.1:<port> to 127.0.0.1:<upstream_port>, or stalls."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host_port}"

    def __enter__(self) -> StallProxy:
        self.start()
        return self

    def stall(self) -> None:
        self._call(self._set_flowing(False)).result(timeout=10)

    def resume(self) -> None:
        self._call(self._set_flowing(True)).result(timeout=10)

    async def _set_flowing(self, flowing: bool) -> None:
        if not flowing:
            self._flowing.clear()
            return
        for writer in list(self._writers):  # what stalled stays stalled: the client retries
            writer.close()
        self._flowing.set()

    async def _shutdown(self) -> None:
        self._flowing.set()
        await super()._shutdown()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        try:
            await self._flowing.wait()
            if writer.is_closing():  # accepted while stalled, closed on resume
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self._upstream_port
            )
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pump(reader, upstream_writer), self._pump(upstream_reader, writer)
            )
            upstream_writer.close()
            self._writers.discard(upstream_writer)
        except OSError:
            return
        finally:
            writer.close()
            self._writers.discard(writer)
            self._connections.discard(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(READ_SIZE):
                await self._flowing.wait()
                if sink.is_closing():
                    return
                sink.write(data)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
