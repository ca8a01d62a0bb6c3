"""RBAC: which actions an identity has on a repository, from ``[rbac]`` and ``[auth]``.

Subjects name who a rule is for (``user:alice``, ``robot:ci``, ``oidc:<sub>``, ``group:<oidc
group>``, ``team:<name>``, ``*`` for anyone authenticated, ``anonymous``). Actions are pull, push,
delete and admin; ``push`` includes ``pull`` (a pusher must read what is there: the distribution
API needs both for an upload) and ``admin`` includes every action. Nothing is allowed unless a
rule, an organisation, the admin list, the user's admin flag or ``auth.anonymous_pull`` says so.
A robot token has exactly the scopes it was created with.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Final

from drift.auth.identity import Identity, IdentityKind
from drift.config.settings import AuthSettings, RbacSettings
from drift.core.access import Access

__all__ = ["ALL_ACTIONS", "Policy", "expand_actions"]

ALL_ACTIONS: Final = frozenset({"pull", "push", "delete", "admin"})
_IMPLIED: Final = {"push": {"push", "pull"}, "admin": ALL_ACTIONS, "*": ALL_ACTIONS}
_MEMBER_ACTIONS: Final = frozenset({"pull", "push"})
_CACHE_LIMIT: Final = 4096


def expand_actions(actions: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for action in actions:
        out.update(_IMPLIED.get(action, (action,)))
    return frozenset(out)


class Policy:
    def __init__(self, rbac: RbacSettings, auth: AuthSettings) -> None:
        self._admins = frozenset(rbac.admins)
        self._teams = [(f"team:{team.name}", frozenset(team.members)) for team in rbac.teams]
        rules: list[tuple[frozenset[str], tuple[str, ...], frozenset[str]]] = [
            (frozenset(rule.subjects), rule.repositories, expand_actions(rule.actions))
            for rule in rbac.policies
        ]
        for org in rbac.organisations:
            patterns = (f"{org.name}/*",)
            rules.append((frozenset(org.members), patterns, _MEMBER_ACTIONS))
            rules.append((frozenset(org.owners), patterns, ALL_ACTIONS))
        if auth.anonymous_pull:
            rules.append((frozenset({"anonymous"}), auth.anonymous_pull, frozenset({"pull"})))
        self._rules = rules
        self._cache: dict[tuple[Identity, str], frozenset[str]] = {}

    def subjects(self, identity: Identity) -> frozenset[str]:
        """Every subject a rule may name to mean ``identity`` (teams resolved)."""
        if identity.kind is IdentityKind.ANONYMOUS:
            own = {"anonymous"}
        else:
            own = {f"{identity.kind.value}:{identity.name}", "*"}
            own.update(f"group:{group}" for group in identity.groups)
        own.update(team for team, members in self._teams if not members.isdisjoint(own))
        return frozenset(own)

    def is_admin(self, identity: Identity) -> bool:
        if identity.kind is IdentityKind.ROBOT:
            return False
        return identity.admin or not self._admins.isdisjoint(self.subjects(identity))

    def actions(self, identity: Identity, repository: str) -> frozenset[str]:
        key = (identity, repository)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._compute(identity, repository)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def allows(self, identity: Identity, access: Access) -> bool:
        """Whether ``identity`` has every action of ``access``."""
        if access.type == "registry":
            return access.name == "catalog" and self.may_list(identity)
        return expand_actions(access.actions) <= self.actions(identity, access.name)

    def may_list(self, identity: Identity) -> bool:
        """The catalog is open to anyone who may pull something; it is filtered per repository."""
        return identity.kind is not IdentityKind.ANONYMOUS or any(
            "anonymous" in subjects for subjects, _, _ in self._rules
        )

    def _compute(self, identity: Identity, repository: str) -> frozenset[str]:
        if identity.kind is IdentityKind.ROBOT:
            return frozenset(
                action
                for scope in identity.limit or ()
                if scope.type == "repository" and scope.name == repository
                for action in expand_actions(scope.actions)
            )
        if self.is_admin(identity):
            return ALL_ACTIONS
        subjects = self.subjects(identity)
        granted: set[str] = set()
        for rule_subjects, patterns, actions in self._rules:
            if not rule_subjects.isdisjoint(subjects) and any(
                fnmatchcase(repository, pattern) for pattern in patterns
            ):
                granted |= actions
        return frozenset(granted)
