"""Validation of driver paths, shared by every storage driver.

A driver path is absolute and slash-separated (``/docker/registry/v2/...``); it has no empty,
``.`` or ``..`` segment and no NUL. The root ``/`` names a directory only: it can be listed,
walked and stat'ed, never written, moved or deleted.
"""

from __future__ import annotations

from typing import Final

from drift.storage.driver import InvalidPathError

__all__ = ["ROOT", "TEMP_PREFIX", "check_dir_path", "check_file_path", "parent_of", "segments"]

ROOT: Final = "/"
# Names of in-flight temporary files; drivers never list, walk or return them.
TEMP_PREFIX: Final = ".tmp-"


def segments(path: str) -> list[str]:
    """The segments of a valid non-root path; raises ``InvalidPathError``."""
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise InvalidPathError(f"invalid storage path: {path!r}")
    parts = path[1:].split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidPathError(f"invalid storage path: {path!r}")
    return parts


def check_file_path(path: str) -> str:
    """``path`` if it is a valid path other than the root."""
    segments(path)
    return path


def check_dir_path(path: str) -> str:
    """``path`` if it is the root or a valid path."""
    if path != ROOT:
        segments(path)
    return path


def parent_of(path: str) -> str:
    """The parent directory of a valid non-root path."""
    head = path.rsplit("/", 1)[0]
    return head or ROOT
