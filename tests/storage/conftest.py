"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from drift.storage.s3 import S3Driver
from tests.support.s3nodes import MIB, Node
from tests.support.seaweedfs import SeaweedFS, new_prefix


@pytest.fixture
async def nodes(seaweedfs: SeaweedFS) -> AsyncIterator[Node]:
    """Opens drivers ("nodes") on one fresh prefix; all are closed after the test."""
    prefix = new_prefix()
    opened: list[S3Driver] = []

    def node(endpoint: str | None = None, **options: Any) -> S3Driver:
        settings = seaweedfs.settings(prefix, part_size=5 * MIB)
        if endpoint is not None:
            settings = replace(settings, endpoint=endpoint)
        driver = S3Driver(settings, **options)
        driver.test_prefix = prefix  # type: ignore[attr-defined]
        opened.append(driver)
        return driver

    yield node
    for driver in opened:
        await driver.close()
