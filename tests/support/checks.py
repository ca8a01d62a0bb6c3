"""Assertions shared by the client tests: copied content is byte-identical to its source."""

from __future__ import annotations

from collections.abc import Iterable

from tests.support.images import Blob, sha256_digest
from tests.support.layouts import LayoutContent

__all__ = ["assert_copy_identical"]


def assert_copy_identical(
    copied: LayoutContent, ref: str, manifest: Blob, blobs: Iterable[Blob]
) -> None:
    """`copied` holds exactly `manifest` (same bytes) under `ref` and exactly its blobs."""
    assert copied.manifests[ref]["digest"] == manifest.digest, "top manifest digest changed"
    expected = {blob.digest for blob in (manifest, *blobs)}
    assert set(copied.blobs) == expected, (
        f"missing {sorted(expected - set(copied.blobs))}, "
        f"unexpected {sorted(set(copied.blobs) - expected)}"
    )
    corrupt = sorted(d for d, data in copied.blobs.items() if sha256_digest(data) != d)
    assert not corrupt, f"blobs whose bytes do not match their digest: {corrupt}"
