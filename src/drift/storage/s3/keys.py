"""Driver paths as S3 keys, and the keys of an upload's data segments.

The mapping is the one of CNCF distribution's S3 driver (``s3Path``): the driver path
``/docker/registry/v2/x`` is the key ``<rootdirectory>/docker/registry/v2/x``, with the root
directory's slashes trimmed and no leading slash; without a root directory the key is
``docker/registry/v2/x``. A bucket written by registry:2 is therefore read unchanged.

A file written through a ``FileWriter`` is stored as ordered *segments* next to it, under the
sibling prefix ``<key>!segments/``, each named by the byte range it holds
(``<start>-<end>``, zero-padded decimal, so that names sort by offset). ``!`` appears in no
repository name, tag or digest (distribution-spec grammar), so the prefix never looks like a
repository, a blob or a link to the catalog, to garbage collection or to registry:2. It is a
sibling rather than a child prefix (``<key>/...``) because MinIO refuses an object below a
key that is itself an object, and the plain object and its segments coexist while an upload
is converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from drift.storage.pathcheck import ROOT, check_dir_path, check_file_path

__all__ = [
    "SEGMENTS_MARK",
    "KeyMap",
    "SegmentName",
    "parse_segment_name",
    "segment_name",
    "segmented_file_name",
]

SEGMENTS_MARK: Final = "!segments"
_DIGITS: Final = 20
_SEGMENT: Final = re.compile(r"^(\d{20})-(\d{20})$")


@dataclass(frozen=True, slots=True)
class SegmentName:
    start: int
    end: int


def segment_name(start: int, end: int) -> str:
    return f"{start:0{_DIGITS}d}-{end:0{_DIGITS}d}"


def parse_segment_name(name: str) -> SegmentName | None:
    """The byte range a segment's object name stands for, or None for any other name."""
    match = _SEGMENT.match(name)
    if match is None:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    return SegmentName(start, end) if start <= end else None


def segmented_file_name(prefix_name: str) -> str | None:
    """``data`` for the prefix name ``data!segments``; None for an ordinary name."""
    if prefix_name.endswith(SEGMENTS_MARK) and len(prefix_name) > len(SEGMENTS_MARK):
        return prefix_name[: -len(SEGMENTS_MARK)]
    return None


class KeyMap:
    """Keys of driver paths below an optional root directory (registry:2's rootdirectory)."""

    __slots__ = ("prefix",)

    def __init__(self, root_directory: str = "") -> None:
        trimmed = root_directory.strip("/")
        self.prefix = f"{trimmed}/" if trimmed else ""  # every key of this driver starts so

    def key(self, path: str) -> str:
        """The object key of a file path (validates it: raises ``InvalidPathError``)."""
        return self.prefix + check_file_path(path)[1:]

    def dir_prefix(self, path: str) -> str:
        """The key prefix of everything below the directory ``path`` (ends with ``/``)."""
        if check_dir_path(path) == ROOT:
            return self.prefix
        return f"{self.prefix}{path[1:]}/"

    def segments_prefix(self, path: str) -> str:
        return f"{self.key(path)}{SEGMENTS_MARK}/"

    def segment_key(self, path: str, start: int, end: int) -> str:
        return self.segments_prefix(path) + segment_name(start, end)

    def path(self, key: str) -> str:
        """The driver path of a key of this driver."""
        return "/" + key[len(self.prefix) :]
