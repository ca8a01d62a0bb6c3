"""Opening the configured storage driver."""

from __future__ import annotations

from drift.config.settings import StorageBackend, StorageSettings
from drift.storage.driver import StorageDriver
from drift.storage.filesystem import FilesystemDriver

__all__ = ["open_driver"]


def open_driver(settings: StorageSettings) -> StorageDriver:
    if settings.backend is StorageBackend.FS:
        settings.fs_root.mkdir(parents=True, exist_ok=True)
        return FilesystemDriver(settings.fs_root)
    raise ValueError(f"storage backend {settings.backend.value!r} is not available in this build")
