"""Drift processes for the fault tests: each crash test owns its data directory and restarts
the server on it; the concurrency tests share one server per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.registry import ClientPool
from tests.support.servers import RunningRegistry, start_drift


class DriftOnDisk:
    """Starts Drift (again and again) on one data directory; stops everything at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[RunningRegistry] = []
        self.pools: list[ClientPool] = []

    def start(self, **options: Any) -> RunningRegistry:
        registry = start_drift(self.root, **options)
        self.started.append(registry)
        return registry

    def pool(self, registry: RunningRegistry) -> ClientPool:
        pool = ClientPool(registry.url)
        self.pools.append(pool)
        return pool

    def close(self) -> None:
        for pool in self.pools:
            pool.close()
        for registry in self.started:
            registry.stop()


@pytest.fixture
def drift_on_disk(tmp_path: Path) -> Iterator[DriftOnDisk]:
    servers = DriftOnDisk(tmp_path / "data")
    try:
        yield servers
    finally:
        servers.close()
    for pool in servers.pools:
        pool.assert_no_server_errors()


@pytest.fixture(scope="module")
def shared_drift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with start_drift(tmp_path_factory.mktemp("faults") / "data") as registry:
        yield registry


@pytest.fixture
def pool(shared_drift: RunningRegistry) -> Iterator[ClientPool]:
    clients = ClientPool(shared_drift.url)
    yield clients
    clients.close()
    assert shared_drift.process.poll() is None, f"server died:\n{shared_drift.log_tail()}"
    clients.assert_no_server_errors()
