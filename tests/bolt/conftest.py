"""One Drift with its HTTP/3 listener (auth off) for the pull tests that need no other setup,
and the mDNS tests' check that multicast works on the loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mdns.conftest import loopback_multicast  # the fixture of --discover's test
from tests.support.quic import H3Server, start_drift_h3
from tests.support.rawhttp import HttpClient
from tests.support.registry import RegistryApi


@pytest.fixture(scope="package")
def drift_h3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H3Server]:
    root = tmp_path_factory.mktemp("bolt") / "data"
    # A killed client's stream keeps the server's shutdown waiting: not for long here.
    env = {"DRIFT_LOG": "info", "DRIFT_SHUTDOWN_TIMEOUT": "1s"}
    with start_drift_h3(root, env=env) as server:
        yield server
        assert server.registry.process.poll() is None, server.registry.log_tail()


@pytest.fixture
def api(drift_h3: H3Server) -> Iterator[RegistryApi]:
    """The registry API over HTTP/1.1: how the tests push what the pull client fetches."""
    with HttpClient(drift_h3.registry.url) as http:
        yield RegistryApi(http)


__all__ = ["api", "drift_h3", "loopback_multicast"]
