"""Arrays of tables (``[[webhooks.endpoints]]``, ``[[rbac.policies]]``...) as one config value.

In ``drift.toml`` such a value is an array of tables; in the environment it is the same list as a
JSON array of objects. A fault names the entry by its position (and its ``name``/``url`` when it
has one) and the key: ``rbac.policies (DRIFT_RBAC_POLICIES): policy 2: actions: ...``.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping
from typing import Final, TypeVar

from drift.config.errors import InvalidValueError
from drift.config.values import Codec, TomlScalar, show

__all__ = ["EntryError", "TableArray", "check_keys", "name_list"]

T = TypeVar("T")
_LABEL_KEYS: Final = ("name", "url")


class EntryError(Exception):
    """One entry's fault: ``key`` and what was wrong with it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def check_keys(
    table: Mapping[str, object], known: tuple[str, ...], required: tuple[str, ...]
) -> None:
    unknown = [key for key in table if key not in known]
    if unknown:
        raise EntryError(unknown[0], f"unknown key (known: {', '.join(known)})")
    for key in required:
        if key not in table:
            raise EntryError(key, "missing; every entry needs it")


def name_list(
    key: str, raw: object, allowed: tuple[str, ...] | None, *, what: str = "glob patterns"
) -> tuple[str, ...]:
    """A non-empty array of strings; with ``allowed``, each one of them (case-insensitive)."""
    expected = f"a non-empty array of {'|'.join(allowed) if allowed else what}"
    if not isinstance(raw, list) or not raw or not all(isinstance(i, str) and i for i in raw):
        raise EntryError(key, f"expected {expected}, got {show(raw)}")
    values = tuple(dict.fromkeys(item.strip().lower() if allowed else item for item in raw))
    unknown = [value for value in values if allowed and value not in allowed]
    if unknown:
        raise EntryError(key, f"expected {expected}, got {show(unknown[0])}")
    return values


class TableArray(Codec[tuple[T, ...]]):
    """Parses each table with ``entry`` and dumps each value with ``dump_entry``; errors call an
    entry by ``noun`` and its position ("policy 2: actions: ...")."""

    noun = "entry"

    @abstractmethod
    def entry(self, table: Mapping[str, object]) -> T: ...

    @abstractmethod
    def dump_entry(self, value: T) -> dict[str, TomlScalar]: ...

    def parse(self, raw: object) -> tuple[T, ...]:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.strip() else []
            except ValueError:
                raise InvalidValueError(f"expected {self.expected}, got invalid JSON") from None
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise InvalidValueError
        entries: list[T] = []
        for number, table in enumerate(raw, start=1):
            try:
                entries.append(self.entry(table))
            except EntryError as bad:
                label = next((table[k] for k in _LABEL_KEYS if isinstance(table.get(k), str)), None)
                named = f" ({label})" if label is not None and bad.key not in _LABEL_KEYS else ""
                raise InvalidValueError(
                    f"{self.noun} {number}{named}: {bad.key}: {bad.message}"
                ) from None
        return tuple(entries)

    def dump(self, value: tuple[T, ...]) -> TomlScalar:
        return [self.dump_entry(item) for item in value]
