"""The registry services wired over one storage driver; what the API handlers talk to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drift.config.settings import RegistrySettings
from drift.events.model import NULL_SINK, EventSink
from drift.oci.digest import Digest
from drift.oci.errors import ErrorCode, RegistryError
from drift.registry.blobs import BlobStore
from drift.registry.catalog import iter_repositories
from drift.registry.manifests import Manifests
from drift.registry.referrers import ReferrerIndex, fallback_tag
from drift.registry.tags import Tags
from drift.registry.upload_state import UploadStateCodec
from drift.registry.uploads import Uploads
from drift.storage.cache import BlobCache
from drift.storage.driver import StorageDriver

__all__ = ["Registry"]


@dataclass(slots=True)
class Registry:
    driver: StorageDriver
    settings: RegistrySettings
    blobs: BlobStore
    uploads: Uploads
    tags: Tags
    manifests: Manifests
    referrer_index: ReferrerIndex

    @classmethod
    def create(
        cls,
        driver: StorageDriver,
        secret: bytes,
        settings: RegistrySettings,
        events: EventSink = NULL_SINK,
        blob_cache: BlobCache | None = None,
    ) -> Registry:
        """The services over ``driver``; they report what they did to ``events``. Blob data
        reads go through ``blob_cache`` when there is one (the hybrid tier)."""
        blobs = BlobStore(driver, events, blob_cache)
        tags = Tags(driver)
        return cls(
            driver=driver,
            settings=settings,
            blobs=blobs,
            uploads=Uploads(driver, blobs, UploadStateCodec(secret), events),
            tags=tags,
            manifests=Manifests(driver, blobs, tags, events),
            referrer_index=ReferrerIndex(driver, blobs.get),
        )

    def require_delete_enabled(self) -> None:
        if not self.settings.delete_enabled:
            raise RegistryError(ErrorCode.UNSUPPORTED, "deletes are disabled on this registry")

    async def repositories(self) -> list[str]:
        return [name async for name in iter_repositories(self.driver)]

    async def referrers(self, name: str, subject: Digest) -> list[dict[str, Any]]:
        """Descriptors of every manifest in ``name`` whose subject is ``subject``."""
        fallback = await self.tags.get(name, fallback_tag(subject))
        return await self.referrer_index.referrers(name, subject, fallback)
