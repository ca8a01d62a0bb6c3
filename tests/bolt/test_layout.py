"""The OCI image layout writer: the files image-layout.md requires, blobs that appear only whole,
and an index.json that keeps the other images of the layout."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from drift.bolt.errors import PullError
from drift.bolt.layout import REF_NAME, LayoutWriter
from drift.bolt.platforms import Platform
from drift.oci.digest import Digest
from drift.oci.manifest import Descriptor
from drift.oci.mediatypes import OCI_INDEX, OCI_MANIFEST


def digest_of(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def manifest(data: bytes) -> Descriptor:
    return Descriptor(OCI_MANIFEST, digest_of(data), len(data))


def index_entries(root: Path) -> list[dict[str, Any]]:
    index = json.loads((root / "index.json").read_bytes())
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    entries: list[dict[str, Any]] = index["manifests"]
    return entries


def ref_names(root: Path) -> list[str | None]:
    return [entry.get("annotations", {}).get(REF_NAME) for entry in index_entries(root)]


@pytest.fixture
def layout(tmp_path: Path) -> LayoutWriter:
    writer = LayoutWriter(tmp_path / "image")
    writer.prepare()
    return writer


def test_a_new_layout_has_its_marker_and_blobs_by_digest(layout: LayoutWriter) -> None:
    root = layout.root
    assert json.loads((root / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    for algorithm in ("sha256", "sha512"):
        digest = digest_of(b"content", algorithm)
        layout.put_blob(digest, b"content")
        assert (root / "blobs" / algorithm / digest.hex).read_bytes() == b"content"
    layout.finish()
    layout.close()
    assert sorted(path.name for path in root.iterdir()) == ["blobs", "oci-layout"]


def test_a_blob_appears_only_when_committed(layout: LayoutWriter) -> None:
    digest = digest_of(b"a" * 10)
    partial = layout.partial(digest)
    partial.write(b"a" * 4)
    assert not layout.blob_path(digest).exists()
    assert not layout.has_blob(Descriptor("x", digest, 10))
    partial.truncate()
    partial.write(b"a" * 10)
    layout.commit_blob(partial, digest)
    assert layout.blob_path(digest).read_bytes() == b"a" * 10
    assert layout.has_blob(Descriptor("x", digest, 10))
    assert not partial.path.exists()


def test_a_discarded_partial_leaves_nothing(layout: LayoutWriter) -> None:
    partial = layout.partial(digest_of(b"x"))
    partial.write(b"half")
    partial.discard()
    assert not partial.path.exists()
    layout.close()
    assert not (layout.root / ".drift-pull").exists()


def test_the_work_directory_of_a_killed_pull_is_swept(layout: LayoutWriter) -> None:
    killed = layout.root / ".drift-pull" / "killed"
    killed.mkdir()
    (killed / ".lock").touch()  # nobody holds its lock any more
    (killed / "partial").write_bytes(b"half a layer")
    running = LayoutWriter(layout.root)
    running.prepare()  # sweeps, but leaves the directory of ``layout`` (locked) alone
    assert not killed.exists()
    partial = layout.partial(digest_of(b"x"))
    running.close()
    assert partial.path.exists()
    partial.discard()
    layout.close()
    assert not (layout.root / ".drift-pull").exists()


def test_index_names_each_tag_and_keeps_other_images(layout: LayoutWriter) -> None:
    first, second, third = (
        manifest(b"1"),
        manifest(b"2"),
        manifest(b"3"),
    )
    layout.add_manifest(first, None, "v1")
    layout.add_manifest(second, Platform("linux", "arm64", "v8"), "v2")
    layout.add_manifest(third, None, "v1")  # the tag moves
    entries = index_entries(layout.root)
    assert ref_names(layout.root) == ["v2", "v1"]
    assert entries[0] == {
        "mediaType": OCI_MANIFEST,
        "digest": str(second.digest),
        "size": 1,
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
        "annotations": {REF_NAME: "v2"},
    }
    assert entries[1]["digest"] == str(third.digest)


def test_a_pull_by_digest_lists_the_manifest_once_without_name(layout: LayoutWriter) -> None:
    image = manifest(b"by digest")
    layout.add_manifest(image, None, "tagged")
    layout.add_manifest(image, None, None)
    layout.add_manifest(image, None, None)
    assert ref_names(layout.root) == ["tagged", None]
    assert "annotations" not in index_entries(layout.root)[1]


def test_concurrent_updates_lose_no_entry(layout: LayoutWriter) -> None:
    def add(number: int) -> None:
        writer = LayoutWriter(layout.root)
        writer.prepare()
        writer.add_manifest(manifest(str(number).encode()), None, f"t{number}")
        writer.close()

    threads = [threading.Thread(target=add, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ref_names(layout.root)) == sorted(f"t{number}" for number in range(16))


def test_an_existing_layout_is_reused(layout: LayoutWriter) -> None:
    layout.add_manifest(manifest(b"old"), None, "old")
    again = LayoutWriter(layout.root)
    again.prepare()
    again.add_manifest(manifest(b"new"), None, "new")
    again.close()
    assert ref_names(layout.root) == ["old", "new"]


def test_a_foreign_layout_version_or_index_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "image"
    root.mkdir()
    (root / "oci-layout").write_text('{"imageLayoutVersion": "9.9.9"}')
    with pytest.raises(PullError, match=r"unknown version '9\.9\.9'"):
        LayoutWriter(root).prepare()
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text('{"manifests": 3}')
    writer = LayoutWriter(root)
    writer.prepare()
    with pytest.raises(PullError, match="not an OCI image index"):
        writer.add_manifest(manifest(b"x"), None, "x")
