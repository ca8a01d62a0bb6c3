"""One Drift with its HTTP/3 listener for the package; clients over either transport.

Every reply a test gets through ``connect`` is checked afterwards: no request over either
transport may ever be answered with a 5xx, and the server must still run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.quic.scenarios import Client
from tests.support.quic import H3Server, start_drift_h3
from tests.support.registry import ClientPool

TRANSPORTS = ("h1", "h3")


@pytest.fixture(scope="package")
def h3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H3Server]:
    root = tmp_path_factory.mktemp("quic") / "data"
    with start_drift_h3(root, env={"DRIFT_LOG": "info"}) as server:
        yield server


class TransportPool(ClientPool):
    """``ClientPool`` over HTTP/1.1 or HTTP/3: every 5xx any client received is kept."""

    def __init__(self, server: H3Server, transport: str) -> None:
        super().__init__(server.registry.url)
        self.server = server
        self.transport = transport

    def client(self) -> Client:  # type: ignore[override]
        if self.transport == "h1":
            return super().client()
        h3 = self.server.h3_client(on_reply=self._record)
        self._clients.append(h3)  # type: ignore[arg-type]
        return h3


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(h3_server: H3Server, transport: str) -> Iterator[Callable[[], Client]]:
    pool = TransportPool(h3_server, transport)
    yield pool.client
    pool.close()
    registry = h3_server.registry
    assert registry.process.poll() is None, f"server died:\n{registry.log_tail()}"
    pool.assert_no_server_errors()
