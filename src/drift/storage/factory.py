"""Opening the configured storage driver."""

from __future__ import annotations

from drift.config.settings import S3Settings, StorageBackend, StorageSettings
from drift.storage.cache import BlobCache
from drift.storage.driver import StorageDriver
from drift.storage.filesystem import FilesystemDriver

__all__ = ["open_blob_cache", "open_driver"]


def open_driver(settings: StorageSettings, s3: S3Settings) -> StorageDriver:
    if settings.backend is StorageBackend.FS:
        settings.fs_root.mkdir(parents=True, exist_ok=True)
        return FilesystemDriver(settings.fs_root)
    if settings.backend is StorageBackend.S3:
        from drift.storage.s3 import S3Driver  # noqa: PLC0415 - aiobotocore only when used

        return S3Driver(s3)
    raise ValueError(f"storage backend {settings.backend.value!r} is not available in this build")


def open_blob_cache(settings: StorageSettings, s3: S3Settings) -> BlobCache | None:
    """The hybrid tier in front of S3 when ``s3.cache_dir`` is set (prepared: blocking, once)."""
    if settings.backend is not StorageBackend.S3 or s3.cache_dir is None:
        return None
    return BlobCache(s3.cache_dir, s3.cache_size).open()
