"""RBAC decisions: subjects, teams, organisations, admins, anonymous pull, robots."""

from __future__ import annotations

import pytest

from drift.auth.identity import ANONYMOUS, Identity, IdentityKind
from drift.auth.policy import Policy
from drift.config.settings import AuthSettings, Organisation, PolicyRule, RbacSettings, Team
from drift.core.grants import Access

ALICE = Identity(IdentityKind.USER, "alice")
BOB = Identity(IdentityKind.USER, "bob")
WORKLOAD = Identity(IdentityKind.OIDC, "repo:ghost/demo:ref:refs/heads/main", frozenset({"ci"}))
ROBOT = Identity(
    IdentityKind.ROBOT,
    "builder",
    limit=(Access("repository", "ghost/demo", frozenset({"push", "pull"})),),
)

ALL = {"pull", "push", "delete", "admin"}

RBAC = RbacSettings(
    admins=("user:root",),
    teams=(Team("devs", ("user:bob", "group:ci")),),
    organisations=(Organisation("ghost", members=("team:devs",), owners=("user:alice",)),),
    policies=(
        PolicyRule(("*",), ("library/*",), ("pull",)),
        PolicyRule(("oidc:repo:ghost/demo:ref:refs/heads/main",), ("ghost/demo",), ("delete",)),
        PolicyRule(("robot:builder",), ("other/*",), ("admin",)),
    ),
)


@pytest.fixture
def policy() -> Policy:
    return Policy(RBAC, AuthSettings(anonymous_pull=("public/*",)))


def pull(name: str) -> Access:
    return Access("repository", name, frozenset({"pull"}))


@pytest.mark.parametrize(
    ("identity", "repository", "actions"),
    [
        (ALICE, "ghost/demo", {"pull", "push", "delete", "admin"}),  # organisation owner
        (ALICE, "ghostly/demo", set()),  # ghost/* does not cover ghostly/
        (BOB, "ghost/demo", {"pull", "push"}),  # team member of the organisation
        (BOB, "library/alpine", {"pull"}),
        (BOB, "public/x", set()),  # anonymous pull is for anonymous callers only
        (WORKLOAD, "ghost/demo", {"pull", "push", "delete"}),  # group -> team, plus own rule
        (WORKLOAD, "ghost/other", {"pull", "push"}),
        (ANONYMOUS, "public/x", {"pull"}),
        (ANONYMOUS, "library/alpine", set()),  # "*" means authenticated
        (ANONYMOUS, "ghost/demo", set()),
        (ROBOT, "ghost/demo", {"pull", "push"}),  # exactly its scopes
        (ROBOT, "other/x", set()),  # policies do not widen a robot token
        (Identity(IdentityKind.USER, "root"), "anything/at/all", ALL),
        (Identity(IdentityKind.USER, "x", admin=True), "a", ALL),
    ],
)
def test_actions(policy: Policy, identity: Identity, repository: str, actions: set[str]) -> None:
    assert policy.actions(identity, repository) == frozenset(actions)


def test_push_includes_pull_and_admin_includes_all() -> None:
    rbac = RbacSettings(
        policies=(
            PolicyRule(("user:alice",), ("a",), ("push",)),
            PolicyRule(("user:alice",), ("b",), ("admin",)),
            PolicyRule(("user:alice",), ("c",), ("delete",)),
        )
    )
    policy = Policy(rbac, AuthSettings())
    assert policy.actions(ALICE, "a") == {"pull", "push"}
    assert policy.actions(ALICE, "b") == {"pull", "push", "delete", "admin"}
    assert policy.actions(ALICE, "c") == {"delete"}


def test_nothing_is_allowed_without_a_rule() -> None:
    policy = Policy(RbacSettings(), AuthSettings())
    assert policy.actions(ALICE, "alice/own") == frozenset()
    assert not policy.allows(ALICE, pull("x"))
    assert not policy.may_list(ANONYMOUS)
    assert policy.may_list(ALICE)  # the catalog itself; it is filtered per repository


def test_catalog_open_to_anonymous_only_with_anonymous_pull(policy: Policy) -> None:
    catalog = Access("registry", "catalog", frozenset({"*"}))
    assert policy.allows(ANONYMOUS, catalog)
    assert policy.allows(BOB, catalog)
    assert not policy.allows(ANONYMOUS, Access("registry", "other", frozenset({"*"})))


def test_a_robot_is_never_an_admin_even_if_listed() -> None:
    policy = Policy(RbacSettings(admins=("robot:builder", "*")), AuthSettings())
    assert not policy.is_admin(ROBOT)
    assert policy.is_admin(BOB)  # "*" names every authenticated user
    assert not policy.is_admin(ANONYMOUS)
