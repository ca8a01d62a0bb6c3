"""The S3 driver's pure parts, without a server: keys, segment resolution, copy plans, and the
walk order rebuilt from a flat listing (checked against the in-memory driver's walk)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift.storage.driver import InvalidPathError, StorageError
from drift.storage.inmemory import InMemoryDriver
from drift.storage.s3.keys import KeyMap, parse_segment_name, segment_name
from drift.storage.s3.segments import (
    MIN_PART_SIZE,
    ListedObject,
    copy_parts,
    resolve_segments,
)
from drift.storage.s3.walk import walk_listing

MIB = 1 << 20
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# keys: distribution's s3Path, TrimLeft(TrimRight(rootdirectory, "/") + path, "/")


@pytest.mark.parametrize(
    ("root", "key"),
    [
        ("", "docker/registry/v2/blobs/data"),
        ("/", "docker/registry/v2/blobs/data"),
        ("registry", "registry/docker/registry/v2/blobs/data"),
        ("/registry/", "registry/docker/registry/v2/blobs/data"),
        ("/a/b", "a/b/docker/registry/v2/blobs/data"),
    ],
)
def test_keys_are_those_of_registry2(root: str, key: str) -> None:
    keys = KeyMap(root)
    assert keys.key("/docker/registry/v2/blobs/data") == key
    assert keys.path(key) == "/docker/registry/v2/blobs/data"


def test_directory_prefixes_and_segment_keys() -> None:
    keys = KeyMap("root")
    assert keys.dir_prefix("/") == "root/"
    assert KeyMap("").dir_prefix("/") == ""
    assert keys.dir_prefix("/a/b") == "root/a/b/"
    assert keys.segment_key("/u/data", 0, 5 * MIB) == (
        "root/u/data!segments/00000000000000000000-00000000000005242880"
    )
    with pytest.raises(InvalidPathError):
        keys.key("/a/../b")
    with pytest.raises(InvalidPathError):
        keys.key("/")


def test_segment_names_round_trip_and_sort_by_offset() -> None:
    names = [segment_name(start, start + 7) for start in (0, 9, 10, 5 * MIB, 10**12)]
    assert names == sorted(names)
    assert parse_segment_name(names[1]) is not None
    assert [parse_segment_name(name).start for name in names] == [0, 9, 10, 5 * MIB, 10**12]  # type: ignore[union-attr]
    assert parse_segment_name("startedat") is None
    assert parse_segment_name(segment_name(9, 3)) is None


# resolve_segments


def listed(*ranges: tuple[int, int], extra: Iterable[ListedObject] = ()) -> list[ListedObject]:
    objects = [ListedObject(f"p/data!segments/{segment_name(s, e)}", e - s, NOW) for s, e in ranges]
    return [*objects, *extra]


def test_segments_in_order_make_the_file() -> None:
    resolved = resolve_segments("/p/data", listed((5 * MIB, 6 * MIB), (0, 5 * MIB)))
    assert resolved is not None
    assert [(s.start, s.end) for s in resolved.segments] == [(0, 5 * MIB), (5 * MIB, 6 * MIB)]
    assert resolved.size == 6 * MIB
    assert resolved.stale == ()


def test_leftovers_of_an_interrupted_writer_are_skipped() -> None:
    # a tail [0, 3) replaced by [0, 7), the part [7, 7 MiB) that absorbed the tail [7, 9)
    resolved = resolve_segments(
        "/p/data", listed((0, 3), (0, 7), (7, 9), (7, 7 + 5 * MIB), (7 + 5 * MIB, 8 + 5 * MIB))
    )
    assert resolved is not None
    assert [(s.start, s.end) for s in resolved.segments] == [
        (0, 7),
        (7, 7 + 5 * MIB),
        (7 + 5 * MIB, 8 + 5 * MIB),
    ]
    assert sorted(resolved.stale) == sorted(
        f"p/data!segments/{segment_name(s, e)}" for s, e in [(0, 3), (7, 9)]
    )


def test_foreign_objects_are_never_served() -> None:
    wrong_size = ListedObject(f"p/data!segments/{segment_name(0, 10)}", 9, NOW)
    other = ListedObject("p/data!segments/notes.txt", 3, NOW)
    assert resolve_segments("/p/data", [wrong_size, other]) is None
    assert resolve_segments("/p/data", []) is None


def test_a_gap_is_reported() -> None:
    with pytest.raises(StorageError, match="inconsistent"):
        resolve_segments("/p/data", listed((0, 5), (6, 9)))
    with pytest.raises(StorageError, match="inconsistent"):
        resolve_segments("/p/data", listed((0, 5), (3, 9)))


# copy_parts


def test_copy_parts_split_large_sources_evenly() -> None:
    parts = copy_parts([("a", 25 * MIB)], 10 * MIB)
    sizes = [part.last - part.first + 1 for part in parts]
    assert sum(sizes) == 25 * MIB
    assert len(parts) == 3
    assert all(size >= MIN_PART_SIZE for size in sizes)
    assert parts[0].range == f"bytes=0-{sizes[0] - 1}"


@given(st.lists(st.integers(MIN_PART_SIZE, 60 * MIB), min_size=1, max_size=6))
def test_copy_parts_cover_every_source_in_valid_parts(sizes: list[int]) -> None:
    sources = [(f"s{index}", size) for index, size in enumerate(sizes)]
    parts = copy_parts(sources, 10 * MIB)
    for key, size in sources:
        own = [part for part in parts if part.key == key]
        assert own[0].first == 0
        assert own[-1].last == size - 1
        assert all(a.last + 1 == b.first for a, b in itertools.pairwise(own))
    assert all(part.last - part.first + 1 >= MIN_PART_SIZE for part in parts)
    assert all(part.last - part.first + 1 <= 10 * MIB for part in parts)


# walk_listing against the in-memory driver's walk (the reference semantics)

NAMES = st.sampled_from(["a", "a-z", "a.b", "b", "C", "a0", "data", "x-"])
PATHS = st.lists(NAMES, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


def _s3_order(key: str) -> bytes:
    return key.encode()


def _tree_order(key: str) -> str:
    return key.replace("/", "\0")


async def _listing(objects: list[ListedObject]) -> AsyncIterator[ListedObject]:
    for item in objects:
        yield item


def _consistent(paths: list[str]) -> dict[str, bytes]:
    """Files such that none is below another (a file is not a directory)."""
    chosen: dict[str, bytes] = {}
    for path in paths:
        clash = any(
            other.startswith(path + "/") or path.startswith(other + "/") or other == path
            for other in chosen
        )
        if not clash:
            chosen[path] = b"x" * (len(path) % 5)
    return chosen


async def _walk_both(files: dict[str, bytes], order: str) -> tuple[list[object], list[object]]:
    reference = InMemoryDriver()
    for path, data in files.items():
        await reference.put_content(path, data)
    expected = [(i.path, i.size, i.is_dir) async for i in reference.walk("/")]
    objects = [ListedObject("root/" + path[1:], len(data), NOW) for path, data in files.items()]
    key = _s3_order if order == "s3" else _tree_order
    objects.sort(key=lambda item: key(item.key))  # type: ignore[operator]
    walked = [
        (i.path, i.size, i.is_dir) async for i in walk_listing(_listing(objects), "root/", "/")
    ]
    return walked, expected


@settings(max_examples=200, deadline=None)
@given(st.lists(PATHS, min_size=1, max_size=12), st.sampled_from(["s3", "tree"]))
def test_walk_order_matches_the_reference_for_either_listing_order(
    paths: list[str], order: str
) -> None:
    walked, expected = asyncio.run(_walk_both(_consistent(paths), order))
    assert walked == expected


def test_walk_shows_a_segmented_file_as_one_file() -> None:
    objects = [
        ListedObject("r/u/a-b", 1, NOW),
        ListedObject("r/u/data!segments/" + segment_name(0, 3), 3, NOW),
        ListedObject("r/u/data!segments/" + segment_name(3, 5), 2, NOW),
        ListedObject("r/u/startedat", 4, NOW),
    ]

    async def walk() -> list[tuple[str, int, bool]]:
        return [
            (i.path, i.size, i.is_dir) async for i in walk_listing(_listing(objects), "r/", "/x")
        ]

    assert asyncio.run(walk()) == [
        ("/x/u", 0, True),
        ("/x/u/a-b", 1, False),
        ("/x/u/data", 5, False),
        ("/x/u/startedat", 4, False),
    ]
