"""Registries for the real-client tests: one fresh server per test module.

A module sets `DRIFT_WORKERS = 2` to have its Drift serve with several worker processes.
Tests that hold for any conforming registry take `registry`, which runs them against Drift on
the filesystem, Drift on S3 (the session's SeaweedFS, a key prefix per module) and the
reference registry (CNCF distribution), as an honesty check on the tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.seaweedfs import BUCKET, SeaweedFS, new_prefix
from tests.support.servers import RunningRegistry, start_drift, start_reference
from tests.support.stores import BucketStore


def _workers(request: pytest.FixtureRequest) -> int:
    workers: int = getattr(request.module, "DRIFT_WORKERS", 1)
    return workers


@pytest.fixture(scope="module")
def drift(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    workers = _workers(request)
    with start_drift(tmp_path_factory.mktemp("drift-data"), workers=workers) as server:
        yield server
        # checked once the module ran, when every worker has long been spawned
        assert len(server.pids()) >= workers, f"expected {workers} worker processes"


@pytest.fixture(scope="module")
def drift_s3(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    seaweedfs: SeaweedFS,
) -> Iterator[RunningRegistry]:
    """Drift with DRIFT_STORAGE_BACKEND=s3 and its default of answering blob GETs with
    redirects to presigned S3 URLs, which the clients follow to SeaweedFS (also on loopback);
    its data directory holds only its own state."""
    prefix = new_prefix()
    env = {**seaweedfs.drift_env(prefix), "DRIFT_S3_REDIRECT": "true"}
    with start_drift(
        tmp_path_factory.mktemp("drift-s3"), workers=_workers(request), env=env
    ) as server:
        server.stored = BucketStore(seaweedfs.client(), BUCKET, prefix)
        yield server


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with start_reference(tmp_path_factory.mktemp("reference-data")) as server:
        yield server


@pytest.fixture(scope="module", params=["drift", "drift_s3", "reference"])
def registry(request: pytest.FixtureRequest) -> RunningRegistry:
    server: RunningRegistry = request.getfixturevalue(request.param)
    return server
