"""The HTTP/3 transport from the inside: flow control both ways, stream limits, idle timeout,
graceful stop. A ``QuicListener`` runs in this process with handlers written here, so that the
tests can see what the transport buffers; the client is the aioquic-based ``H3Client``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from multidict import CIMultiDict

from drift.core.http import Request, Response, StreamBody
from drift.quic.body import H3RequestBody
from drift.quic.exchange import LOW_WATER
from drift.quic.listener import RECEIVE_WINDOW
from drift.quic.response import CHUNK
from tests.quic.inprocess import Handler, ListenerThread
from tests.support.h3client import H3Error

MIB = 1024 * 1024


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ListenerThread]]:
    running: list[ListenerThread] = []

    def start(handler: Handler, **quic: object) -> ListenerThread:
        listener = ListenerThread(handler, tmp_path / f"data{len(running)}", **quic)
        running.append(listener)
        return listener

    yield start
    for listener in running:
        listener.close()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_unread_body_holds_at_most_the_receive_window(
    serve: Callable[..., ListenerThread],
) -> None:
    """The client may only send RECEIVE_WINDOW bytes beyond what the handler consumed, however
    fast it could send: a slow handler slows the client down instead of filling the memory."""
    gate = asyncio.Event()
    seen: dict[str, object] = {}

    async def slow_reader(req: Request) -> Response:
        body = req.body
        assert isinstance(body, H3RequestBody)
        seen["body"] = body
        await gate.wait()
        total = peak = 0
        while chunk := await body.read(64 * 1024):
            total += len(chunk)
            peak = max(peak, body.buffered)
            await asyncio.sleep(0.001)
        seen["peak"] = peak
        return Response.data(200, str(total).encode(), "text/plain")

    server = serve(slow_reader)
    data = b"\x5a" * (8 * MIB)
    with server.client(max_datagram_size=16384) as client:
        reply = client.submit("PUT", "/upload", body=data)
        _wait(lambda: "body" in seen)
        time.sleep(1.0)  # the client would have sent everything by now without flow control

        async def buffered() -> int:
            body = seen["body"]
            assert isinstance(body, H3RequestBody)
            return body.buffered

        waiting = server.call(buffered())
        assert RECEIVE_WINDOW // 2 <= waiting <= RECEIVE_WINDOW, waiting
        server.soon(gate.set)
        done = reply.result(60)
    assert done.status == 200, str(done)
    assert done.body == str(len(data)).encode()
    assert isinstance(seen["peak"], int)
    assert seen["peak"] <= RECEIVE_WINDOW


def test_a_download_pauses_while_the_peer_reads_nothing(
    serve: Callable[..., ListenerThread],
) -> None:
    """The response body is produced only as fast as it leaves: with a client that stopped
    reading, the handler's stream stalls after the peer's window and the low water mark."""
    produced = [0]
    total, piece = 24 * MIB, 64 * 1024
    block = bytes(range(256)) * (piece // 256)

    async def endless(req: Request) -> Response:
        del req

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(total // piece):
                produced[0] += piece
                yield block

        headers = CIMultiDict({"Content-Length": str(total)})
        return Response(200, headers, StreamBody(chunks(), total))

    server = serve(endless)
    window = MIB
    with server.client(receive_window=window) as client:
        client.pause_reading()
        reply = client.submit("GET", "/blob")
        _wait(lambda: produced[0] > 0)
        time.sleep(1.0)
        stalled = produced[0]
        time.sleep(0.5)
        assert produced[0] == stalled, "the handler kept producing for a client reading nothing"
        assert stalled <= window + LOW_WATER + CHUNK + 2 * piece, stalled
        client.resume_reading()
        done = reply.result(120)
    assert done.status == 200, str(done)
    assert len(done.body) == total
    assert done.body == block * (total // piece)


def test_concurrent_streams_are_capped_per_connection(
    serve: Callable[..., ListenerThread],
) -> None:
    active, peak = [0], [0]

    async def busy(req: Request) -> Response:
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        await asyncio.sleep(0.2)
        active[0] -= 1
        return Response.data(200, req.path.encode(), "text/plain")

    server = serve(busy, max_streams=2)
    with server.client() as client:
        replies = [client.submit("GET", f"/layer/{index}") for index in range(6)]
        bodies = [reply.result(30).body for reply in replies]
    assert bodies == [f"/layer/{index}".encode() for index in range(6)]
    assert peak[0] == 2


def test_parallel_streams_on_one_connection(serve: Callable[..., ListenerThread]) -> None:
    async def layer(req: Request) -> Response:
        index = int(req.path.rsplit("/", 1)[1])
        return Response.data(200, bytes([index]) * (MIB + index), "application/octet-stream")

    server = serve(layer)
    with server.client() as client:
        replies = [client.submit("GET", f"/layer/{index}") for index in range(8)]
        for index, reply in enumerate(replies):
            assert reply.result(60).body == bytes([index]) * (MIB + index)
        assert server.listener.connection_count == 1


def test_oversized_datagram_settings_still_carry_whole_frames(
    serve: Callable[..., ListenerThread],
) -> None:
    """aioquic cannot fill datagrams above 16 KiB correctly: the listener caps the size."""
    payload = bytes(range(256)) * 8192

    async def blob(req: Request) -> Response:
        del req
        return Response.data(200, payload, "application/octet-stream")

    server = serve(blob, max_datagram_size=65527)
    with server.client() as client:
        assert client.get("/blob").body == payload


def test_idle_connections_are_closed(serve: Callable[..., ListenerThread]) -> None:
    async def hello(req: Request) -> Response:
        del req
        return Response.data(200, b"hi", "text/plain")

    server = serve(hello, idle_timeout_seconds=1)
    with server.client() as client:
        assert client.get("/").body == b"hi"
        assert server.listener.connection_count == 1
        _wait(lambda: server.listener.connection_count == 0, timeout=5)
        _wait(lambda: client.closed, timeout=5)


def test_draining_connections_get_goaway(serve: Callable[..., ListenerThread]) -> None:
    """RFC 9114 section 5.2: while draining, a connection takes no new request; connections
    opened meanwhile get one request each, like HTTP/1.1 responses with Connection: close."""

    async def hello(req: Request) -> Response:
        return Response.data(200, req.path.encode(), "text/plain")

    server = serve(hello)
    with server.client() as before:
        assert before.get("/before").status == 200
        server.soon(server.listener.begin_drain)
        time.sleep(0.2)
        with pytest.raises(H3Error, match="stream reset"):
            before.get("/again")
        with server.client() as during:
            assert during.get("/during").body == b"/during"
            with pytest.raises(H3Error, match="stream reset"):
                during.get("/second")


def test_stop_finishes_in_flight_requests_and_refuses_new_ones(
    serve: Callable[..., ListenerThread],
) -> None:
    started = asyncio.Event()

    async def slow(req: Request) -> Response:
        del req
        started.set()
        await asyncio.sleep(1.0)
        return Response.data(200, b"done", "text/plain")

    server = serve(slow)
    with server.client() as client:
        first = client.submit("GET", "/slow")
        server.call(started.wait())
        stopping = asyncio.run_coroutine_threadsafe(server.listener.stop(), server.loop)
        time.sleep(0.2)
        with pytest.raises(H3Error):
            client.get("/refused")
        assert first.result(10).body == b"done"
        stopping.result(10)
        _wait(lambda: client.closed, timeout=5)
