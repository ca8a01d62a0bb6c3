"""What a request needs (an ``Access``) and what authorization gave it (a ``Grant``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Access", "Grant", "everything"]


@dataclass(frozen=True, slots=True)
class Access:
    type: str  # "repository" or "registry"
    name: str
    actions: frozenset[str]

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


def everything(repository: str) -> bool:
    del repository
    return True


@dataclass(frozen=True, slots=True)
class Grant:
    """``subject`` is the user name (None for anonymous); ``readable`` says which repositories
    the caller may pull, for listings that show only those (the catalog)."""

    subject: str | None
    accesses: tuple[Access, ...]
    readable: Callable[[str], bool] = field(default=everything)
