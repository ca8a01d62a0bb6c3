"""Docker token-spec scopes: ``repository:<name>:pull,push`` and ``registry:catalog:*``.

A scope names a resource type (optionally with a class, ``repository(plugin)``), a resource name
and a comma-separated list of actions. Repository names never contain ``:``, so the actions are
after the last colon and the type before the first.
"""

from __future__ import annotations

from typing import Final

from drift.core.access import Access
from drift.oci.errors import RegistryError
from drift.oci.names import validate_name

__all__ = ["REPOSITORY_ACTIONS", "ScopeError", "parse_scope", "parse_scopes"]

REPOSITORY_ACTIONS: Final = frozenset({"pull", "push", "delete", "admin", "*"})
_CATALOG: Final = ("registry", "catalog")


class ScopeError(ValueError):
    """A scope that is not ``type:name:actions`` with a known type, valid name and actions."""


def parse_scope(text: str) -> Access:
    kind, sep, rest = text.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not sep or not sep2 or not kind or not name:
        raise ScopeError(f"expected type:name:actions, got {text!r}")
    kind = kind.split("(", 1)[0]  # a resource class is allowed and ignored
    actions = frozenset(action for action in actions_text.split(",") if action)
    if kind == "repository":
        try:
            validate_name(name)
        except RegistryError:
            raise ScopeError(f"invalid repository name in scope {text!r}") from None
        unknown = sorted(actions - REPOSITORY_ACTIONS)
        if unknown:
            raise ScopeError(f"unknown action {unknown[0]!r} in scope {text!r}")
    elif (kind, name) != _CATALOG:
        raise ScopeError(f"unknown resource {kind}:{name} in scope {text!r}")
    if not actions:
        raise ScopeError(f"no actions in scope {text!r}")
    return Access(kind, name, actions)


def parse_scopes(values: list[str]) -> list[Access]:
    """Every scope of a token request: each value may hold several, separated by spaces."""
    return [parse_scope(part) for value in values for part in value.split()]
