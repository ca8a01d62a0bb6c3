"""What a registry really stored, whatever holds it: a data directory or a prefix of a bucket.

Paths are relative to the store's root and follow distribution's v2 layout (``storage.py``
builds them: pass ``Path()`` as its root). Tests that check stored files run unchanged against
the filesystem and the S3 backend.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Protocol

__all__ = ["BucketStore", "DirectoryStore", "StoredContent"]


class StoredContent(Protocol):
    def read(self, relative: Path) -> bytes | None:
        """The file's bytes; None when there is no such file."""
        ...

    def files(self, below: Path) -> list[Path]:
        """Every file below the directory ``below`` (relative to the store's root)."""
        ...


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, relative: Path) -> bytes | None:
        path = self.root / relative
        return path.read_bytes() if path.is_file() else None

    def files(self, below: Path) -> list[Path]:
        return [
            path.relative_to(self.root) for path in (self.root / below).rglob("*") if path.is_file()
        ]


class BucketStore:
    """Keys below ``prefix`` of a bucket, read with a synchronous botocore ``client``."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, relative: Path) -> str:
        return str(PurePosixPath(self.prefix, relative.as_posix()))

    def read(self, relative: Path) -> bytes | None:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self._key(relative))
        except self.client.exceptions.NoSuchKey:
            return None
        data: bytes = reply["Body"].read()
        return data

    def files(self, below: Path) -> list[Path]:
        start = self._key(below) + "/"
        skip = len(self.prefix) + 1 if self.prefix else 0
        found: list[Path] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        for page in pages:
            found.extend(
                Path(item["Key"][skip:])
                for item in page.get("Contents", ())
                if not item["Key"].endswith("/")
            )
        return found
