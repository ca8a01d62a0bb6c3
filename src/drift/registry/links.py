"""Link files: small files holding a digest, distribution's way of pointing at content."""

from __future__ import annotations

from drift.oci.digest import Digest, parse_digest
from drift.oci.errors import RegistryError
from drift.storage.driver import PathNotFoundError, StorageDriver, StorageError

__all__ = ["read_link", "write_link"]


async def read_link(driver: StorageDriver, path: str) -> Digest | None:
    """The digest a link file holds, or None when there is no (valid) link."""
    try:
        content = await driver.get_content(path)
    except PathNotFoundError:
        return None
    try:
        return parse_digest(content.decode("ascii", "replace").strip())
    except RegistryError:
        raise StorageError(f"corrupt link file {path}") from None


async def write_link(driver: StorageDriver, path: str, digest: Digest) -> None:
    await driver.put_content(path, str(digest).encode("ascii"))
