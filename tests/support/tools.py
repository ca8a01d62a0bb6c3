"""Locating the third-party programs the functional tests drive (skopeo, docker-registry)."""

from __future__ import annotations

import shutil

import pytest

__all__ = ["require_tool"]

INSTALL_HINT = "run scripts/install-test-deps (installs skopeo, docker-registry, wrk, nginx)"


def require_tool(name: str) -> str:
    """Absolute path of `name` on PATH; fails the calling test (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return path
