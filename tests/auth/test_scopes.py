"""Parsing of token-request scopes."""

from __future__ import annotations

import pytest

from drift.auth.scopes import ScopeError, parse_scope, parse_scopes
from drift.core.grants import Access


def test_valid_scopes() -> None:
    assert parse_scope("repository:ghost/demo:pull,push") == Access(
        "repository", "ghost/demo", frozenset({"pull", "push"})
    )
    assert parse_scope("repository(plugin):a/b:pull").name == "a/b"
    assert parse_scope("registry:catalog:*") == Access("registry", "catalog", frozenset({"*"}))
    assert len(parse_scopes(["repository:a:pull repository:b:push", "registry:catalog:*"])) == 3


@pytest.mark.parametrize(
    "text",
    [
        "repository:../etc:pull",
        "repository:Ghost/demo:pull",
        "repository:a//b:pull",
        "repository:a:fly",
        "repository:a:",
        "repository::pull",
        "registry:users:*",
        "pull",
        "repository:a",
    ],
)
def test_invalid_scopes(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)
