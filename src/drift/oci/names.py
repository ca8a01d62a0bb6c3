"""Repository name and tag grammar (distribution-spec v1.1, "Pulling manifests")."""

from __future__ import annotations

import re
from typing import Final

from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["MAX_NAME_LENGTH", "is_digest_reference", "validate_name", "validate_tag"]

_NAME_COMPONENT: Final = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_PATTERN: Final = re.compile(rf"^{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*$")
TAG_PATTERN: Final = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# Many clients reject longer names (hostname + name must fit 255); distribution uses 255 as well.
MAX_NAME_LENGTH: Final = 255


def validate_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise RegistryError(
            ErrorCode.NAME_INVALID, f"repository name longer than {MAX_NAME_LENGTH} characters"
        )
    if not NAME_PATTERN.match(name):
        raise RegistryError(
            ErrorCode.NAME_INVALID,
            f"invalid repository name {name!r}: lowercase alphanumeric path components "
            "separated by '/', with '.', '_', '__' or '-' between alphanumerics",
        )
    return name


def validate_tag(tag: str) -> str:
    if not TAG_PATTERN.match(tag):
        raise RegistryError(
            ErrorCode.TAG_INVALID,
            f"invalid tag {tag!r}: up to 128 characters of [A-Za-z0-9_.-], "
            "not starting with '.' or '-'",
        )
    return tag


def is_digest_reference(reference: str) -> bool:
    return ":" in reference
