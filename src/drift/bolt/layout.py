"""Writing an OCI image layout (image-spec image-layout.md) that a pull fills in.

``DIR/oci-layout`` names the layout version, ``DIR/blobs/<alg>/<hex>`` holds every blob by
digest and ``DIR/index.json`` lists the pulled manifests, each with its tag in the
``org.opencontainers.image.ref.name`` annotation. Files appear atomically and durably: written to
a temporary file in the pull's work directory ``DIR/.drift-pull/<id>/`` (same file system),
fsynced, renamed into place, and the directory fsynced; a reader never sees a partial blob, and
a blob present is complete. Pulling into an existing layout keeps its other manifests;
``index.json`` is updated under an exclusive ``flock`` of the layout directory so that
concurrent pulls into one layout do not lose entries.

Each pull holds an exclusive ``flock`` on its work directory's ``.lock`` while it runs; the
next pull removes the work directories whose lock is free (a pull that was killed), so partial
files never accumulate.

Every method is blocking: callers run them through ``drift.storage.executor.run_blocking``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from drift.bolt.errors import PullError
from drift.bolt.platforms import Platform
from drift.oci.digest import Digest
from drift.oci.manifest import Descriptor
from drift.oci.mediatypes import OCI_INDEX

__all__ = ["LAYOUT_VERSION", "REF_NAME", "LayoutWriter", "PartialFile"]

LAYOUT_VERSION: Final = "1.0.0"
REF_NAME: Final = "org.opencontainers.image.ref.name"
_WORK_DIR: Final = ".drift-pull"
_LOCK: Final = ".lock"


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartialFile:
    """A file being written in the layout's work directory, until it is committed.

    Its methods may run in several executor threads; a lock orders them, so that a write still
    queued when a cancelled download discards the file finds it closed (and does nothing)
    instead of writing to a descriptor number the process may have reused meanwhile.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._lock = threading.Lock()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None:
                return  # discarded
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            self.size += len(data)

    def truncate(self) -> None:
        with self._lock:
            assert self._fd is not None
            os.ftruncate(self._fd, 0)
            os.lseek(self._fd, 0, os.SEEK_SET)
            self.size = 0

    def commit(self, destination: Path) -> None:
        """Make the content durable, then visible at ``destination``."""
        with self._lock:
            assert self._fd is not None
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            os.replace(self.path, destination)

    def discard(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class LayoutWriter:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._work = root / _WORK_DIR / secrets.token_hex(8)
        self._work_lock: int | None = None
        self._touched: set[Path] = set()  # directories to fsync at the end

    def prepare(self) -> None:
        """Create the layout (or check the one already there) and this pull's work directory."""
        try:
            self._claim_work_directory()
        except OSError as exc:
            raise PullError(f"cannot write to {self.root}: {exc.strerror or exc}") from None
        self._sweep()
        marker = self.root / "oci-layout"
        if marker.exists():
            try:
                version = json.loads(marker.read_bytes()).get("imageLayoutVersion")
            except (OSError, ValueError, AttributeError):
                version = None
            if version != LAYOUT_VERSION:
                raise PullError(f"{self.root} holds an OCI layout of unknown version {version!r}")
        else:
            version_file = {"imageLayoutVersion": LAYOUT_VERSION}
            self._write_atomically(marker, json.dumps(version_file).encode())

    def _claim_work_directory(self) -> None:
        # Locked before it gets its name: a sweeping pull never sees it unlocked.
        building = self._work.with_name(f".{self._work.name}")
        building.mkdir(parents=True)
        fd = os.open(building / _LOCK, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._work_lock = fd
        building.rename(self._work)

    def _sweep(self) -> None:
        """Remove the work directories of pulls that ended without cleaning up."""
        for directory in self._work.parent.iterdir():
            if directory == self._work or directory.name.startswith("."):
                continue
            try:
                fd = os.open(directory / _LOCK, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a pull running now
            else:
                shutil.rmtree(directory, ignore_errors=True)
            finally:
                os.close(fd)

    def blob_path(self, digest: Digest) -> Path:
        return self.root / "blobs" / digest.algorithm / digest.hex

    def has_blob(self, descriptor: Descriptor) -> bool:
        """A blob already in the layout (complete: blobs only ever appear whole)."""
        try:
            return self.blob_path(descriptor.digest).stat().st_size == descriptor.size
        except FileNotFoundError:
            return False

    def partial(self, digest: Digest) -> PartialFile:
        return PartialFile(self._work / f"{digest.hex[:16]}-{secrets.token_hex(4)}")

    def commit_blob(self, partial: PartialFile, digest: Digest) -> None:
        destination = self.blob_path(digest)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial.commit(destination)
        self._touched.add(destination.parent)

    def put_blob(self, digest: Digest, data: bytes) -> None:
        """A small blob (a manifest) already verified in memory."""
        partial = self.partial(digest)
        try:
            partial.write(data)
            self.commit_blob(partial, digest)
        except BaseException:
            partial.discard()
            raise

    def add_manifest(
        self, descriptor: Descriptor, platform: Platform | None, ref_name: str | None
    ) -> None:
        """List ``descriptor`` in ``index.json``, replacing the entry of the same ref name
        (or, without one, of the same digest)."""
        with self._locked():
            index_path = self.root / "index.json"
            index = self._read_index(index_path)
            kept = [
                entry
                for entry in index["manifests"]
                if not _same_entry(entry, descriptor, ref_name)
            ]
            entry = _index_entry(descriptor, platform, ref_name)
            index["manifests"] = [*kept, entry]
            self._write_atomically(index_path, json.dumps(index, indent=2).encode() + b"\n")

    def finish(self) -> None:
        """Make the renames of committed blobs durable."""
        for directory in sorted(self._touched):
            _fsync_directory(directory)
        self._touched.clear()

    def close(self) -> None:
        """Remove this pull's work directory (and the parent when no other pull uses it)."""
        if self._work_lock is None:
            return
        shutil.rmtree(self._work, ignore_errors=True)
        os.close(self._work_lock)
        self._work_lock = None
        with contextlib.suppress(OSError):
            self._work.parent.rmdir()

    # -- helpers

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_index(self, path: Path) -> dict[str, Any]:
        try:
            index = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        except (OSError, ValueError) as exc:
            raise PullError(f"{path}: unreadable ({exc})") from None
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise PullError(f"{path}: not an OCI image index")
        return index

    def _write_atomically(self, path: Path, data: bytes) -> None:
        partial = PartialFile(self._work / f"{path.name}-{secrets.token_hex(4)}")
        try:
            partial.write(data)
            partial.commit(path)
        except BaseException:
            partial.discard()
            raise
        _fsync_directory(path.parent)


def _index_entry(
    descriptor: Descriptor, platform: Platform | None, ref_name: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "mediaType": descriptor.media_type,
        "digest": str(descriptor.digest),
        "size": descriptor.size,
    }
    if platform is not None:
        fields = {"architecture": platform.architecture, "os": platform.os}
        entry["platform"] = fields | ({"variant": platform.variant} if platform.variant else {})
    if ref_name:
        entry["annotations"] = {REF_NAME: ref_name}
    return entry


def _same_entry(entry: object, descriptor: Descriptor, ref_name: str | None) -> bool:
    if not isinstance(entry, dict):
        return False
    annotations = entry.get("annotations")
    name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
    if ref_name is not None:
        return bool(name == ref_name)
    return name is None and entry.get("digest") == str(descriptor.digest)
