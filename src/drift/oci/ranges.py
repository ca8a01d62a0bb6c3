"""HTTP byte ranges: ``Range`` on blob GET (RFC 9110 §14) and ``Content-Range`` on PATCH."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_chunk_range", "parse_range_header"]

_SINGLE_RANGE: Final = re.compile(r"^bytes=(\d*)-(\d*)$")
# distribution-spec: ``Content-Range: <start>-<end>`` (inclusive); also accept the RFC form.
_CHUNK_RANGE: Final = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


class RangeNotSatisfiable(Exception):  # noqa: N818 - named after the HTTP status
    """Malformed or unsatisfiable ``Range``: answer 416 with ``Content-Range: bytes */size``."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range_header(value: str, size: int) -> ByteRange | None:
    """The single range asked for, or None to send the whole blob.

    Several ranges (``bytes=0-1,5-9``) are allowed by RFC 9110 to be answered with the whole
    representation, which is what we do; anything else malformed or outside the blob raises.
    """
    value = value.strip()
    if "," in value and value.startswith("bytes="):
        return None
    match = _SINGLE_RANGE.match(value)
    if match is None:
        raise RangeNotSatisfiable(f"malformed Range header {value!r}")
    first, last = match.groups()
    if not first and not last:
        raise RangeNotSatisfiable(f"malformed Range header {value!r}")
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable("empty suffix range")
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    if last and int(last) < start:
        raise RangeNotSatisfiable(f"range end before start in {value!r}")
    if start >= size:
        raise RangeNotSatisfiable(f"range starts at {start}, blob has {size} bytes")
    end = int(last) if last else size - 1
    return ByteRange(start, min(end, size - 1))


def parse_chunk_range(value: str) -> ByteRange | None:
    """The ``start-end`` of a PATCH ``Content-Range``, or None when malformed."""
    match = _CHUNK_RANGE.match(value.strip())
    if match is None:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        return None
    return ByteRange(start, end)
