"""Who a request acts for: a local user, a robot token, an OIDC workload, or nobody."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from drift.core.access import Access

__all__ = ["ANONYMOUS", "Identity", "IdentityKind"]


class IdentityKind(Enum):
    USER = "user"
    ROBOT = "robot"
    OIDC = "oidc"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller.

    ``name`` is the user name, the robot token's name, or the OIDC claim chosen as user name.
    ``groups`` are the OIDC groups (claims mapped by config); ``limit`` bounds a robot token to
    the scopes it was created with, whatever the policies say; ``admin`` is the user flag of the
    user store (the first-start ``admin`` account has it).
    """

    kind: IdentityKind
    name: str
    groups: frozenset[str] = frozenset()
    limit: tuple[Access, ...] | None = None
    admin: bool = False

    @property
    def subject(self) -> str | None:
        """How logs, audit and tokens name the caller: ``alice``, ``robot:ci``, ``oidc:<sub>``."""
        if self.kind is IdentityKind.ANONYMOUS:
            return None
        if self.kind is IdentityKind.USER:
            return self.name
        return f"{self.kind.value}:{self.name}"


ANONYMOUS: Final = Identity(IdentityKind.ANONYMOUS, "")
