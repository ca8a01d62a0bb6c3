"""The client's receive window: a registry may send only ``window`` bytes beyond what the reader
consumed, whatever the response size (aioquic alone would keep doubling the limit as data
arrives). The registry is Drift's HTTP/3 listener in this process, answering one large body."""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path

from drift.bolt.h3 import ConnectionOptions, H3Client
from drift.bolt.reference import Endpoint
from drift.bolt.trust import Trust
from drift.core.http import Request, Response
from tests.quic.inprocess import ListenerThread

MIB = 1024 * 1024
WINDOW = 1 * MIB


async def fetch_slowly(port: int, pin: str) -> tuple[list[int], bytes]:
    """GET /big; while not reading, how much arrived; then the whole body."""
    options = ConnectionOptions(
        trust=Trust.from_options(None, f"sha256/{pin}", False), window=WINDOW
    )
    client = await H3Client.open(Endpoint("127.0.0.1", port), options)
    try:
        response = await client.request("GET", "/big")
        arrived = []
        for _ in range(3):  # the reader stalls: the transfer must stop at the window
            await asyncio.sleep(0.3)
            arrived.append(response.body.received)
        pieces = [await response.body.read(MIB)]
        await asyncio.sleep(0.3)
        arrived.append(response.body.received)  # half a window read: another half may come
        while piece := await response.body.read(MIB, MIB // 4):
            pieces.append(piece)
        return arrived, b"".join(pieces)
    finally:
        client.shutdown()


def test_the_registry_sends_only_a_window_ahead_of_the_reader(
    rng: random.Random, tmp_path: Path
) -> None:
    data = rng.randbytes(6 * MIB)

    async def big(request: Request) -> Response:
        return Response.data(200, data, "application/octet-stream")

    with ListenerThread(big, tmp_path / "quic") as listener:
        arrived, body = asyncio.run(fetch_slowly(listener.port, listener.certificate.pin))

    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    stalled = arrived[:3]
    assert stalled[0] == stalled[2], f"the transfer went on while the reader stalled: {arrived}"
    assert WINDOW // 2 <= stalled[0] <= WINDOW, arrived
    assert stalled[0] < arrived[3] <= MIB + WINDOW, arrived
