"""Configuration tests run with no Drift variable in the environment, in an empty directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def clean_environ() -> dict[str, str]:
    """This process's environment without anything that configures Drift."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_") and k != "RUST_LOG"}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in set(os.environ) - set(clean_environ()):
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
