"""Registries for the real-client tests: one fresh server per test module.

A module sets `DRIFT_WORKERS = 2` to have its Drift serve with several worker processes.
Tests that hold for any conforming registry take `registry`, which runs them against Drift and
against the reference registry (CNCF distribution), as an honesty check on the tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import RunningRegistry, start_drift, start_reference


@pytest.fixture(scope="module")
def drift(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    workers = getattr(request.module, "DRIFT_WORKERS", 1)
    with start_drift(tmp_path_factory.mktemp("drift-data"), workers=workers) as server:
        yield server
        # checked once the module ran, when every worker has long been spawned
        assert len(server.pids()) >= workers, f"expected {workers} worker processes"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with start_reference(tmp_path_factory.mktemp("reference-data")) as server:
        yield server


@pytest.fixture(scope="module", params=["drift", "reference"])
def registry(request: pytest.FixtureRequest) -> RunningRegistry:
    server: RunningRegistry = request.getfixturevalue(request.param)
    return server
