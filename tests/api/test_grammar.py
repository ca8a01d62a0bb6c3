"""Property tests of the name, tag and digest grammar: the server accepts exactly the strings
the spec's regular expressions accept (distribution-spec "Pulling manifests", image-spec
descriptor.md "Digests")."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.manifests_support import minimal_manifest
from tests.support.oci import (
    DIGEST_GRAMMAR,
    NAME_GRAMMAR,
    OCI_MANIFEST,
    SUPPORTED_DIGEST,
    TAG_GRAMMAR,
)
from tests.support.rawhttp import HttpClient
from tests.support.registry import RegistryApi, assert_error, unique_repo
from tests.support.servers import RunningRegistry

# Names longer than this are valid by the grammar but may be refused by a length limit.
SAFE_NAME_LENGTH = 200
GRAMMAR_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

NAME_ALPHABET = st.sampled_from(
    [*"abcz09", ".", "_", "-", "/", "A", "Z", ":", "@", "+", "~", "%", " ", "é", "\x00", "\n"]
)
TAG_ALPHABET = st.sampled_from(
    [*"aZ09", ".", "_", "-", ":", "@", "+", "~", "%", " ", "é", "\x00", "#", "?", "*"]
)
HEX = "0123456789abcdef"


def is_dot_segment_path(name: str) -> bool:
    """Names with ``.``/``..`` segments are covered by the traversal tests: an HTTP stack may
    legitimately resolve them before routing."""
    return any(segment in {".", ".."} for segment in name.split("/"))


valid_names = st.from_regex(NAME_GRAMMAR, fullmatch=True).filter(
    lambda name: len(name) <= SAFE_NAME_LENGTH
)
any_names = st.text(NAME_ALPHABET, min_size=1, max_size=40).filter(
    lambda name: not is_dot_segment_path(name)
)
valid_tags = st.from_regex(TAG_GRAMMAR, fullmatch=True)
any_tags = st.text(TAG_ALPHABET, min_size=1, max_size=140).filter(
    lambda tag: tag not in {".", ".."}
)


@st.composite
def digest_like(draw: st.DrawFn) -> str:
    """Valid digests and near misses: wrong case, length, algorithm or characters."""
    algorithm = draw(
        st.sampled_from(["sha256", "sha512", "sha384", "md5", "SHA256", "sha_256", ""])
    )
    length = {"sha256": 64, "sha512": 128}.get(algorithm, 64)
    length += draw(st.sampled_from([0, 0, 0, -1, 1, -64]))
    encoded = draw(st.text(st.sampled_from(HEX), min_size=max(length, 0), max_size=max(length, 0)))
    mutation = draw(st.sampled_from(["none", "none", "upper", "bad-char", "separator"]))
    if mutation == "upper" and encoded:
        encoded = encoded.upper()
    elif mutation == "bad-char" and encoded:
        position = draw(st.integers(0, len(encoded) - 1))
        bad = draw(st.sampled_from("gG=_-+:%. "))
        encoded = encoded[:position] + bad + encoded[position + 1 :]
    separator = ":" if mutation != "separator" else draw(st.sampled_from(["", "::", "-", "@"]))
    return f"{algorithm}{separator}{encoded}"


def quote_name(name: str) -> str:
    return quote(name, safe="/")


def quote_segment(value: str) -> str:
    return quote(value, safe="")


@pytest.fixture(scope="module")
def grammar_client(registry: RunningRegistry) -> Iterator[HttpClient]:
    with HttpClient(registry.url) as http:
        yield http


@pytest.fixture(scope="module")
def tag_repo(grammar_client: HttpClient) -> tuple[str, bytes]:
    api = RegistryApi(grammar_client)
    repo = unique_repo("grammar")
    return repo, minimal_manifest(api, repo)


@GRAMMAR_SETTINGS
@given(name=st.one_of(valid_names, any_names))
@example(name="a" * 64 + "/" + "b" * 64)
@example(name="a__b")
@example(name="a___b")
@example(name="a--------b")
@example(name="a.-b")
def test_name_grammar(grammar_client: HttpClient, name: str) -> None:
    reply = grammar_client.get(f"/v2/{quote_name(name)}/tags/list")
    if NAME_GRAMMAR.fullmatch(name) and len(name) <= SAFE_NAME_LENGTH:
        assert_error(reply, 404, "NAME_UNKNOWN")
    else:
        assert_error(reply, 400, "NAME_INVALID")


@GRAMMAR_SETTINGS
@given(tag=st.one_of(valid_tags, any_tags))
@example(tag="_")
@example(tag="a" * 128)
@example(tag="a" * 129)
@example(tag="-a")
def test_tag_grammar_on_get(
    grammar_client: HttpClient, tag_repo: tuple[str, bytes], tag: str
) -> None:
    repo, _ = tag_repo
    reply = grammar_client.get(f"/v2/{repo}/manifests/{quote_segment(tag)}")
    if TAG_GRAMMAR.fullmatch(tag):
        assert_error(reply, 404, "MANIFEST_UNKNOWN")
    elif ":" in tag:
        # Not a tag, so it is read as a (malformed) digest.
        assert_error(reply, 400, "DIGEST_INVALID", "TAG_INVALID")
    else:
        assert_error(reply, 400, "TAG_INVALID")


@settings(GRAMMAR_SETTINGS, max_examples=60)
@given(tag=st.one_of(valid_tags, any_tags))
def test_tag_grammar_on_put(
    grammar_client: HttpClient, tag_repo: tuple[str, bytes], tag: str
) -> None:
    repo, body = tag_repo
    reply = grammar_client.put(
        f"/v2/{repo}/manifests/{quote_segment(tag)}",
        body=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    if TAG_GRAMMAR.fullmatch(tag):
        assert reply.status == 201, str(reply)
        assert grammar_client.head(f"/v2/{repo}/manifests/{quote_segment(tag)}").status == 200
    elif ":" in tag:
        assert_error(reply, 400, "DIGEST_INVALID", "TAG_INVALID")
    else:
        assert_error(reply, 400, "TAG_INVALID")


@GRAMMAR_SETTINGS
@given(digest=digest_like().filter(bool))
def test_digest_grammar(
    grammar_client: HttpClient, tag_repo: tuple[str, bytes], digest: str
) -> None:
    repo, _ = tag_repo
    if digest.startswith("sha384:") and DIGEST_GRAMMAR.fullmatch(digest):
        return  # a registered algorithm the issue neither requires nor forbids
    path = quote_segment(digest).replace("%3A", ":")
    blob = grammar_client.get(f"/v2/{repo}/blobs/{path}")
    referrers = grammar_client.get(f"/v2/{repo}/referrers/{path}")
    if SUPPORTED_DIGEST.fullmatch(digest):
        assert_error(blob, 404, "BLOB_UNKNOWN")
        assert referrers.status == 200, str(referrers)
    else:
        assert_error(blob, 400, "DIGEST_INVALID")
        assert_error(referrers, 400, "DIGEST_INVALID")
