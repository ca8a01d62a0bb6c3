"""One page of a ListObjectsV2 answer, read from its XML.

botocore turns each listed key into a dictionary through its generic parser and parses each
timestamp with dateutil: about 0.1 ms of CPU per key. Opening an upload's writer lists the
upload's segments (every PATCH), so that cost grew with the upload: ~10 ms per PATCH at 64
segments. Read here with ElementTree, a key costs a few microseconds.

Element names are matched without their namespace (S3 answers in
``http://s3.amazonaws.com/doc/2006-03-01/``; some compatible stores use none). Keys and
prefixes are URL-decoded when the answer says ``EncodingType`` ``url``, as botocore does.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from botocore.utils import parse_timestamp

from drift.storage.s3.segments import ListedObject

__all__ = ["ListPage", "ListingError", "parse_list_page"]


class ListingError(ValueError):
    """The answer is not a ListObjectsV2 result."""


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: list[ListedObject]
    prefixes: list[str]  # CommonPrefixes
    next_token: str | None  # NextContinuationToken when the listing goes on


_REPEATED = frozenset({"Contents", "CommonPrefixes"})  # elements that come once per item


def parse_list_page(document: bytes) -> ListPage:
    try:
        root = ET.fromstring(document)  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise ListingError(f"S3 sent a listing that is not XML: {exc}") from None
    if _name(root) != "ListBucketResult":
        raise ListingError(f"S3 sent {_name(root)!r} for a listing")
    fields = {_name(child): child for child in root if _name(child) not in _REPEATED}
    decode = _decoder(_text(fields.get("EncodingType")))
    objects: list[ListedObject] = []
    prefixes: list[str] = []
    for child in root:
        name = _name(child)
        if name == "Contents":
            objects.append(_listed(child, decode))
        elif name == "CommonPrefixes":
            prefixes.extend(decode(_text(item)) for item in _named(child, "Prefix"))
    truncated = _text(fields.get("IsTruncated")).lower() == "true"
    token = _text(fields.get("NextContinuationToken")) or None
    return ListPage(objects, prefixes, token if truncated else None)


def _listed(element: ET.Element, decode: _Decode) -> ListedObject:
    fields = {_name(child): _text(child) for child in element}
    try:
        key = decode(fields["Key"])
        size = int(fields["Size"])
        modified = _timestamp(fields["LastModified"])
    except (KeyError, ValueError) as exc:
        raise ListingError(
            f"S3 listed an object without a usable Key, Size or LastModified: {exc}"
        ) from None
    return ListedObject(key, size, modified)


def _timestamp(text: str) -> dt.datetime:
    """ISO 8601 as S3 writes it ("2026-12-04T18:00:00.000Z"); other forms as botocore reads
    them."""
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        stamp = parse_timestamp(text)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


_Decode = Callable[[str], str]


def _decoder(encoding: str) -> _Decode:
    return unquote_plus if encoding == "url" else _unchanged


def _unchanged(text: str) -> str:
    return text


def _name(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _named(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _name(child) == name)


def _text(element: ET.Element | None) -> str:
    return "" if element is None or element.text is None else element.text
