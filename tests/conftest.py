"""Fixtures shared by every test package; the machinery lives in tests/support."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.support.seaweedfs import SeaweedFS, start_seaweedfs
from tests.support.skopeo import Skopeo


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """Random content that differs per test but is reproducible from the test's id."""
    return random.Random(request.node.nodeid)


@pytest.fixture(scope="session")
def skopeo(tmp_path_factory: pytest.TempPathFactory) -> Skopeo:
    return Skopeo.locate(tmp_path_factory.mktemp("skopeo-tmp"))


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3 server (SeaweedFS) for the session, started by the first test that needs it."""
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
