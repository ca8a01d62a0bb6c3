"""Removal of abandoned upload sessions (distribution's upload purger)."""

from __future__ import annotations

import datetime as dt
import logging

from drift.registry.catalog import UPLOAD_MARKERS, iter_repositories
from drift.storage import layout
from drift.storage.driver import PathNotFoundError, StorageDriver

__all__ = ["purge_uploads"]

_log = logging.getLogger(__name__)


def _started_at(content: bytes) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(content.decode("ascii").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def _session_started(driver: StorageDriver, session_dir: str) -> dt.datetime:
    try:
        started = _started_at(await driver.get_content(f"{session_dir}/startedat"))
    except PathNotFoundError:
        started = None
    if started is None:  # no (readable) start time: judge by the directory's age
        started = (await driver.stat(session_dir)).modified
    return started if started.tzinfo else started.replace(tzinfo=dt.UTC)


async def purge_uploads(driver: StorageDriver, older_than: dt.timedelta) -> int:
    """Delete every upload session started more than ``older_than`` ago; return how many."""
    cutoff = dt.datetime.now(dt.UTC) - older_than
    purged = 0
    async for name in iter_repositories(driver, UPLOAD_MARKERS):
        try:
            sessions = await driver.list(layout.RepositoryPaths(name).uploads())
        except PathNotFoundError:
            continue
        for session_dir in sessions:
            try:
                if await _session_started(driver, session_dir) < cutoff:
                    await driver.delete(session_dir)
                    purged += 1
            except PathNotFoundError:
                continue  # finished or cancelled meanwhile
    if purged:
        _log.info("purged %d abandoned upload session(s)", purged)
    await driver.purge_incomplete(older_than)
    return purged
