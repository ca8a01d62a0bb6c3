"""Repository enumeration over storage, as distribution's catalog does it.

A directory below ``repositories/`` is a repository when it holds ``_manifests`` or ``_layers``;
directories whose name starts with ``_`` are repository internals and are not descended into.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from drift.storage import layout
from drift.storage.driver import PathNotFoundError, StorageDriver

__all__ = ["CONTENT_MARKERS", "UPLOAD_MARKERS", "iter_repositories"]

CONTENT_MARKERS = frozenset({"_manifests", "_layers"})
UPLOAD_MARKERS = frozenset({"_uploads"})


async def iter_repositories(
    driver: StorageDriver, markers: frozenset[str] = CONTENT_MARKERS
) -> AsyncIterator[str]:
    """Every repository holding one of ``markers``, in lexical order of its path components."""
    root = layout.repositories_root()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            children = await driver.list(directory)
        except PathNotFoundError:
            continue
        names = [child.rsplit("/", 1)[1] for child in children]
        if directory != root and markers.intersection(names):
            yield directory[len(root) + 1 :]
        stack.extend(
            child
            for child, base in reversed(list(zip(children, names, strict=True)))
            if not base.startswith("_")
        )
