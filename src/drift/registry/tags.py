"""Tags: ``_manifests/tags/<tag>/current/link`` plus the tag's history in ``index/``."""

from __future__ import annotations

from drift.oci.digest import Digest
from drift.registry.links import read_link, write_link
from drift.storage import layout
from drift.storage.driver import PathNotFoundError, StorageDriver

__all__ = ["Tags"]


class Tags:
    def __init__(self, driver: StorageDriver) -> None:
        self._driver = driver

    async def get(self, name: str, tag: str) -> Digest | None:
        return await read_link(self._driver, layout.RepositoryPaths(name).tag_current_link(tag))

    async def set(self, name: str, tag: str, digest: Digest) -> None:
        paths = layout.RepositoryPaths(name)
        await write_link(self._driver, paths.tag_index_link(tag, digest), digest)
        await write_link(self._driver, paths.tag_current_link(tag), digest)

    async def delete(self, name: str, tag: str) -> bool:
        try:
            await self._driver.delete(layout.RepositoryPaths(name).tag(tag))
        except PathNotFoundError:
            return False
        return True

    async def list_tags(self, name: str) -> list[str] | None:
        """The repository's tags, or None when the repository does not exist."""
        paths = layout.RepositoryPaths(name)
        try:
            children = await self._driver.list(paths.tags())
        except PathNotFoundError:
            return [] if await self.repository_exists(name) else None
        return sorted(child.rsplit("/", 1)[1] for child in children)

    async def pointing_at(self, name: str, digest: Digest) -> list[str]:
        return [
            tag for tag in await self.list_tags(name) or [] if await self.get(name, tag) == digest
        ]

    async def repository_exists(self, name: str) -> bool:
        try:
            await self._driver.stat(layout.RepositoryPaths(name).root)
        except PathNotFoundError:
            return False
        return True
