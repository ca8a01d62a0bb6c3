"""A pull: manifest, platform resolution, every blob in parallel over one connection, layout.

``pull_image`` fetches the manifest the reference names; an index is resolved to the platform
of this host (nested indexes too, up to ``MAX_INDEX_DEPTH``); the image's config and layers are
downloaded at most ``parallel`` at a time, largest first (the transfer ends with the longest
one), each on its own HTTP/3 stream of the one QUIC connection. The image manifest is written
last and ``index.json`` names it after the tag: a layout never lists an image whose blobs are
missing. The first failure cancels the other downloads and is raised as a ``PullError``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from drift.bolt.auth import Credentials
from drift.bolt.download import download_blob
from drift.bolt.errors import PullError
from drift.bolt.h3 import ConnectionOptions
from drift.bolt.layout import LayoutWriter
from drift.bolt.platforms import Platform, host_platform
from drift.bolt.progress import Progress
from drift.bolt.reference import Endpoint, ImageReference
from drift.bolt.registry import Manifest, RegistryClient
from drift.bolt.session import RegistrySession
from drift.oci.manifest import Descriptor
from drift.storage.executor import run_blocking

__all__ = ["MAX_INDEX_DEPTH", "PullOptions", "PullResult", "pull_image"]

MAX_INDEX_DEPTH: Final = 3


@dataclass(frozen=True, slots=True)
class PullOptions:
    output: Path
    parallel: int  # blobs downloaded at once
    connection: ConnectionOptions = field(default_factory=ConnectionOptions)
    credentials: Credentials | None = None
    platform: Platform = field(default_factory=host_platform)


@dataclass(frozen=True, slots=True)
class PullResult:
    manifest: Descriptor  # as listed in index.json
    platform: Platform | None  # of its index entry, when it was chosen from an index
    blobs: int  # config and layers
    transferred: int  # bytes received for them
    seconds: float


def _blob_name(descriptor: Descriptor) -> str:
    return f"{descriptor.digest.algorithm}:{descriptor.digest.short}"


async def _resolve(
    client: RegistryClient, reference: str, platform: Platform
) -> tuple[Manifest, Platform | None]:
    """The image manifest for ``platform`` and the platform its index entry named."""
    manifest = await client.manifest(reference)
    chosen: Platform | None = None
    for _ in range(MAX_INDEX_DEPTH):
        if not manifest.is_index:
            return manifest, chosen
        child, chosen = manifest.child(platform)
        manifest = await client.manifest(str(child.digest), expected=child)
    if manifest.is_index:
        raise PullError(f"{reference}: indexes nested deeper than {MAX_INDEX_DEPTH} levels")
    return manifest, chosen


async def _download_all(
    client: RegistryClient,
    layout: LayoutWriter,
    blobs: tuple[Descriptor, ...],
    progress: Progress,
    parallel: int,
) -> None:
    slots = asyncio.Semaphore(max(1, parallel))

    async def fetch(descriptor: Descriptor) -> None:
        async with slots:
            await download_blob(client, layout, descriptor, progress, _blob_name(descriptor))

    ordered = sorted(blobs, key=lambda descriptor: descriptor.size, reverse=True)
    tasks = [asyncio.create_task(fetch(descriptor)) for descriptor in ordered]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def pull_image(
    reference: ImageReference, endpoint: Endpoint, options: PullOptions, progress: Progress
) -> PullResult:
    began = time.monotonic()
    layout = LayoutWriter(options.output)
    session = RegistrySession(endpoint, options.connection, options.credentials)
    try:
        client = RegistryClient(session, reference.repository)
        manifest, platform = await _resolve(client, reference.reference, options.platform)
        await run_blocking(layout.prepare)  # only once there is an image to write
        blobs = tuple({str(blob.digest): blob for blob in manifest.blobs()}.values())
        for blob in blobs:
            progress.add(_blob_name(blob), blob.size)
        await _download_all(client, layout, blobs, progress, options.parallel)
        session.close()
        descriptor = manifest.descriptor
        await run_blocking(layout.put_blob, manifest.digest, manifest.data)
        await run_blocking(layout.add_manifest, descriptor, platform, reference.tag)
        await run_blocking(layout.finish)
    finally:
        session.close()
        await asyncio.shield(run_blocking(layout.close))
    seconds = time.monotonic() - began
    return PullResult(descriptor, platform, len(blobs), progress.transferred, seconds)
