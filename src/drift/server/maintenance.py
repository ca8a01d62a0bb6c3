"""Maintenance jobs that ``driftctl`` runs against the configured storage."""

from __future__ import annotations

import datetime as dt

from drift.config.settings import Settings
from drift.registry.purge import purge_uploads as purge_stored_uploads
from drift.storage.factory import open_driver

__all__ = ["purge_uploads"]


async def purge_uploads(settings: Settings, older_than_seconds: int) -> int:
    driver = open_driver(settings.storage, settings.s3)
    try:
        return await purge_stored_uploads(driver, dt.timedelta(seconds=older_than_seconds))
    finally:
        await driver.close()
