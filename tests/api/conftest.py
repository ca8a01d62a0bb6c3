"""One Drift process for the whole API suite; every test works in repositories of its own.

Every reply a test receives through the ``client`` fixture is checked afterwards: no request
may ever be answered with a 5xx. ``DRIFT_API_TARGET=reference`` runs the same suite against CNCF
distribution instead, to check the tests themselves (distribution deviates from the spec in
places, so some of them fail there).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.rawhttp import HttpClient
from tests.support.registry import ClientFactory, ClientPool, RegistryApi, unique_repo
from tests.support.servers import RunningRegistry, start_drift, start_reference


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    root = tmp_path_factory.mktemp("api") / "data"
    target = os.environ.get("DRIFT_API_TARGET", "drift")
    starter = {"drift": start_drift, "reference": start_reference}[target]
    with starter(root) as running:
        yield running


@pytest.fixture
def new_client(registry: RunningRegistry) -> Iterator[ClientFactory]:
    """Opens extra connections; all of them are checked for 5xx replies at teardown."""
    pool = ClientPool(registry.url)
    yield pool.client
    pool.close()
    assert registry.process.poll() is None, f"server died:\n{registry.log_tail()}"
    pool.assert_no_server_errors()


@pytest.fixture
def client(new_client: ClientFactory) -> HttpClient:
    return new_client()


@pytest.fixture
def api(client: HttpClient) -> RegistryApi:
    return RegistryApi(client)


@pytest.fixture
def repo() -> str:
    return unique_repo("api")
