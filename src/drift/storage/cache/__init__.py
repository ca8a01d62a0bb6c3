"""The hybrid tier: a bounded local-disk cache of hot blobs in front of a remote store."""

from __future__ import annotations

from drift.storage.cache.blobs import BlobCache, CacheStats

__all__ = ["BlobCache", "CacheStats"]
