"""``[rbac]`` arrays of tables: teams, organisations and policies, and the subject syntax.

A subject is ``user:NAME``, ``robot:NAME``, ``oidc:SUB`` (an OIDC identity by its user claim),
``group:NAME`` (an OIDC group), ``team:NAME`` (a team defined here), ``*`` (anyone authenticated)
or ``anonymous`` (requests without credentials).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from drift.config.settings import ACTIONS, Organisation, PolicyRule, Team
from drift.config.tables import EntryError, TableArray, check_keys, name_list
from drift.config.values import StringList, TomlScalar, show

__all__ = ["SUBJECT", "Organisations", "Policies", "Subjects", "Teams"]

SUBJECT: Final = re.compile(r"\*|anonymous|(?:user|robot|oidc|group|team):\S+")
_SUBJECTS_EXPECTED: Final = "subjects (user:NAME, robot:NAME, oidc:SUB, group:NAME, team:NAME, *)"
_ORGANISATION: Final = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")


def _subjects(key: str, raw: object, *, required: bool) -> tuple[str, ...]:
    if raw == [] and not required:
        return ()
    values = name_list(key, raw, None, what=_SUBJECTS_EXPECTED)
    bad = [value for value in values if not SUBJECT.fullmatch(value)]
    if bad:
        raise EntryError(key, f"expected {_SUBJECTS_EXPECTED}, got {show(bad[0])}")
    return values


def _name(raw: object, pattern: re.Pattern[str], expected: str) -> str:
    if not isinstance(raw, str) or not pattern.fullmatch(raw):
        raise EntryError("name", f"expected {expected}, got {show(raw)}")
    return raw


class Subjects(StringList):
    def __init__(self) -> None:
        super().__init__(_SUBJECTS_EXPECTED, SUBJECT)


class Teams(TableArray[Team]):
    noun = "team"
    expected = "an array of tables [[rbac.teams]] with name and members (env: JSON array)"

    def entry(self, table: Mapping[str, object]) -> Team:
        check_keys(table, ("name", "members"), ("name", "members"))
        name = _name(table["name"], re.compile(r"[A-Za-z0-9._@-]{1,64}"), "a team name")
        return Team(name, _subjects("members", table["members"], required=False))

    def dump_entry(self, value: Team) -> dict[str, TomlScalar]:
        return {"name": value.name, "members": list[TomlScalar](value.members)}


class Organisations(TableArray[Organisation]):
    noun = "organisation"
    expected = (
        "an array of tables [[rbac.organisations]] with name, members, owners (env: JSON array)"
    )

    def entry(self, table: Mapping[str, object]) -> Organisation:
        check_keys(table, ("name", "members", "owners"), ("name",))
        return Organisation(
            name=_name(table["name"], _ORGANISATION, "a repository name component such as ghost"),
            members=_subjects("members", table.get("members", []), required=False),
            owners=_subjects("owners", table.get("owners", []), required=False),
        )

    def dump_entry(self, value: Organisation) -> dict[str, TomlScalar]:
        return {
            "name": value.name,
            "members": list[TomlScalar](value.members),
            "owners": list[TomlScalar](value.owners),
        }


class Policies(TableArray[PolicyRule]):
    noun = "policy"
    expected = (
        "an array of tables [[rbac.policies]] with subjects, repositories, actions "
        "(env: JSON array)"
    )

    def entry(self, table: Mapping[str, object]) -> PolicyRule:
        keys = ("subjects", "repositories", "actions")
        check_keys(table, keys, keys)
        return PolicyRule(
            subjects=_subjects("subjects", table["subjects"], required=True),
            repositories=name_list("repositories", table["repositories"], None),
            actions=name_list("actions", table["actions"], ACTIONS),
        )

    def dump_entry(self, value: PolicyRule) -> dict[str, TomlScalar]:
        return {
            "subjects": list[TomlScalar](value.subjects),
            "repositories": list[TomlScalar](value.repositories),
            "actions": list[TomlScalar](value.actions),
        }
