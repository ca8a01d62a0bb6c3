"""Content digests (OCI image-spec "Digests"): ``<algorithm>:<encoded>`` for sha256 and sha512."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Protocol

from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["ALGORITHMS", "Digest", "Hasher", "new_hasher", "parse_digest"]

# Registered algorithms and the exact length of their lowercase hex encoding.
ALGORITHMS: Final[dict[str, int]] = {"sha256": 64, "sha512": 128}
_ENCODED: Final = {name: re.compile(f"[a-f0-9]{{{length}}}") for name, length in ALGORITHMS.items()}
# The general grammar of image-spec; unregistered algorithms are well-formed but unsupported.
_DIGEST_GRAMMAR: Final = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> Hasher: ...


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        return self.hex[:12]

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return cls(algorithm, hasher.hexdigest())


def is_well_formed(value: str) -> bool:
    return bool(_DIGEST_GRAMMAR.match(value))


def parse_digest(value: str) -> Digest:
    """Parse and validate a digest; raise DIGEST_INVALID (400) with the reason otherwise."""
    if not _DIGEST_GRAMMAR.match(value):
        raise RegistryError(ErrorCode.DIGEST_INVALID, f"invalid digest {value!r}")
    algorithm, encoded = value.split(":", 1)
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise RegistryError(
            ErrorCode.DIGEST_INVALID,
            f"unsupported digest algorithm {algorithm!r}; supported: {', '.join(ALGORITHMS)}",
        )
    if not _ENCODED[algorithm].fullmatch(encoded):
        raise RegistryError(
            ErrorCode.DIGEST_INVALID,
            f"invalid {algorithm} digest: expected {length} lowercase hex characters",
        )
    return Digest(algorithm, encoded)


def new_hasher(algorithm: str) -> Hasher:
    return hashlib.new(algorithm)
