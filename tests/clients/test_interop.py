"""Drift and the reference registry (CNCF distribution) serve each other's data directory.

Content is pushed with skopeo to one server, that server is stopped, and the other one, started
on the same directory, must serve the same tags, manifests (exact bytes) and blobs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.interop import assert_serves, push, sample
from tests.support.servers import RunningRegistry, start_drift, start_reference
from tests.support.skopeo import Skopeo

pytestmark = pytest.mark.clients

Starter = Callable[[Path], RunningRegistry]


@pytest.mark.parametrize(
    ("writer", "reader"),
    [(start_reference, start_drift), (start_drift, start_reference)],
    ids=["reference-to-drift", "drift-to-reference"],
)
def test_same_directory_served_by_the_other_registry(
    writer: Starter,
    reader: Starter,
    skopeo: Skopeo,
    rng: random.Random,
    tmp_path: Path,
) -> None:
    content = sample(rng)
    root = tmp_path / "data"
    with writer(root) as first:
        push(skopeo, content, first.host_port, tmp_path / "src")
        assert_serves(skopeo, content, first, tmp_path / "first")
    with reader(root) as second:
        assert_serves(skopeo, content, second, tmp_path / "second")
