"""The HMAC secret that signs upload state, shared by every worker and node."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["load_secret"]


def load_secret(configured: str, data_dir: Path) -> bytes:
    """``DRIFT_SECRET`` when set, else a random secret generated once in the data directory."""
    if configured:
        return configured.encode()
    path = data_dir / ".drift" / "secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    candidate = secrets.token_hex(32).encode()
    temporary = path.with_name(f".secret-{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, candidate)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # first writer wins when several processes start at once
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes().strip()
