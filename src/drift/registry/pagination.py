"""``n``/``last`` pagination of tags/list, _catalog and referrers (distribution-spec v1.1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["Page", "PageRequest", "paginate"]

MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    n: int | None
    last: str | None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> PageRequest:
        raw = query.get("n")
        n: int | None = None
        if raw is not None:
            if not raw.isdigit():
                raise RegistryError(
                    ErrorCode.PAGINATION_NUMBER_INVALID,
                    f"n must be a non-negative integer, got {raw!r}",
                )
            n = min(int(raw), MAX_PAGE)
        return cls(n, query.get("last") or None)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    next_last: str | None  # set when more items follow


def paginate(items: Iterable[str], request: PageRequest, default_size: int | None) -> Page:
    """Items after ``last`` in lexical order, at most ``n`` (or ``default_size``) of them."""
    ordered = sorted(items)
    if request.last is not None:
        ordered = [item for item in ordered if item > request.last]
    size = request.n if request.n is not None else default_size
    if size is None or len(ordered) <= size:
        return Page(ordered, None)
    page = ordered[:size]
    return Page(page, page[-1] if page else None)
