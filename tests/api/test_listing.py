"""Content discovery: ``tags/list`` (end-8a/8b) and ``/v2/_catalog`` with ``n``, ``last`` and
RFC 5988 ``Link: <...>; rel="next"`` paging."""

from __future__ import annotations

import math

import pytest

from tests.api.manifests_support import push_manifest_of_type
from tests.support.oci import OCI_MANIFEST
from tests.support.rawhttp import HttpClient, Reply, with_query
from tests.support.registry import RegistryApi, assert_error, next_link, unique_repo

# Lower-case letters and digits only: ASCII order and case-insensitive order agree, so the
# expected order does not depend on which of the two the spec allows the registry picked.
TAGS = ["a", "b1", "b10", "b2", "c", "latest", "v1", "v2", "z9"]


@pytest.fixture
def tagged_repo(api: RegistryApi, repo: str) -> str:
    body = push_manifest_of_type(api, repo, OCI_MANIFEST)
    for tag in reversed(TAGS):
        api.push_manifest(repo, tag, body, OCI_MANIFEST)
    return repo


def tags_page(reply: Reply, repo: str) -> list[str]:
    assert reply.status == 200, str(reply)
    document = reply.json()
    assert document["name"] == repo, str(reply)
    tags: list[str] = document["tags"]
    return tags


def test_tags_list(client: HttpClient, tagged_repo: str) -> None:
    reply = client.get(f"/v2/{tagged_repo}/tags/list")
    assert tags_page(reply, tagged_repo) == TAGS
    assert next_link(reply) is None
    assert (reply.header("Content-Type") or "").startswith("application/json"), str(reply)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 8, 9])
def test_tags_paging_with_link(client: HttpClient, tagged_repo: str, n: int) -> None:
    collected: list[str] = []
    target: str | None = with_query(f"/v2/{tagged_repo}/tags/list", n=str(n))
    requests = 0
    while target is not None:
        reply = client.get(target)
        page = tags_page(reply, tagged_repo)
        requests += 1
        assert requests <= math.ceil(len(TAGS) / n) + 1, "paging does not terminate"
        target = next_link(reply)
        assert len(page) <= n, str(reply)
        if target is not None:
            # Fewer than n is only allowed when more pages follow; then the page must not
            # be empty, or paging would never make progress.
            assert page, str(reply)
        collected.extend(page)
        if len(collected) < len(TAGS):
            assert target is not None, f"more tags remain but no Link:\n{reply}"
    assert collected == TAGS


def test_tags_first_page_is_exactly_n(client: HttpClient, tagged_repo: str) -> None:
    reply = client.get(f"/v2/{tagged_repo}/tags/list?n=2")
    assert tags_page(reply, tagged_repo) == TAGS[:2]
    link = next_link(reply)
    assert link is not None, str(reply)
    assert client.target(link).startswith(f"/v2/{tagged_repo}/tags/list?"), str(reply)


def test_tags_n_zero(client: HttpClient, tagged_repo: str) -> None:
    reply = client.get(f"/v2/{tagged_repo}/tags/list?n=0")
    assert tags_page(reply, tagged_repo) == []
    assert reply.header("Link") is None, str(reply)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("last=b2", TAGS[4:]),
        ("last=b2&n=2", TAGS[4:6]),
        ("last=b", TAGS[1:]),
        ("last=z9", []),
        ("last=zzz", []),
        ("n=100", TAGS),
    ],
)
def test_tags_last(client: HttpClient, tagged_repo: str, query: str, expected: list[str]) -> None:
    reply = client.get(f"/v2/{tagged_repo}/tags/list?{query}")
    assert tags_page(reply, tagged_repo) == expected


@pytest.mark.parametrize("n", ["-1", "abc", "1.5", "1e3"])
def test_tags_invalid_n(client: HttpClient, tagged_repo: str, n: str) -> None:
    assert_error(client.get(f"/v2/{tagged_repo}/tags/list?n={n}"), 400)


def test_tags_of_unknown_repository(client: HttpClient) -> None:
    assert_error(client.get(f"/v2/{unique_repo('api')}/tags/list"), 404, "NAME_UNKNOWN")


# --- catalog ---------------------------------------------------------------------------------


@pytest.fixture
def catalog_repos(api: RegistryApi) -> list[str]:
    """Names chosen so that ASCII order differs from a naive walk of the directory tree."""
    base = unique_repo("cat")
    names = [f"{base}/a", f"{base}/a-b", f"{base}/a/b", f"{base}/a0", f"{base}/b"]
    for name in reversed(names):
        api.push_blob(name, name.encode())
    return sorted(names)


def catalog_page(reply: Reply) -> list[str]:
    assert reply.status == 200, str(reply)
    repositories: list[str] = reply.json()["repositories"]
    return repositories


def full_catalog(client: HttpClient, n: int) -> list[str]:
    collected: list[str] = []
    target: str | None = f"/v2/_catalog?n={n}"
    while target is not None:
        reply = client.get(target)
        page = catalog_page(reply)
        assert len(page) <= n, str(reply)
        target = next_link(reply)
        if target is not None:
            assert page, str(reply)
            assert client.target(target).startswith("/v2/_catalog?"), str(reply)
        collected.extend(page)
        assert len(collected) < 100_000, "paging does not terminate"
    return collected


def test_catalog_lists_repositories_in_order(client: HttpClient, catalog_repos: list[str]) -> None:
    everything = full_catalog(client, 100)
    assert everything == sorted(everything)
    assert [name for name in everything if name in catalog_repos] == catalog_repos


def test_catalog_paging(client: HttpClient, catalog_repos: list[str]) -> None:
    assert full_catalog(client, 3) == full_catalog(client, 100)


def test_catalog_last(client: HttpClient, catalog_repos: list[str]) -> None:
    reply = client.get(with_query("/v2/_catalog", n="2", last=catalog_repos[0]))
    assert catalog_page(reply) == catalog_repos[1:3]
    assert next_link(reply) is not None


def test_catalog_n_zero(client: HttpClient, catalog_repos: list[str]) -> None:
    reply = client.get("/v2/_catalog?n=0")
    assert catalog_page(reply) == []
    assert reply.header("Link") is None, str(reply)
