"""The HMAC secret that signs upload state, shared by every worker and node."""

from __future__ import annotations

import secrets
from pathlib import Path

from drift.localfiles import read_or_create

__all__ = ["load_secret"]


def load_secret(configured: str, data_dir: Path) -> bytes:
    """``DRIFT_SECRET`` when set, else a random secret generated once in the data directory."""
    if configured:
        return configured.encode()
    return read_or_create(
        data_dir / ".drift" / "secret", lambda: secrets.token_hex(32).encode()
    ).strip()
