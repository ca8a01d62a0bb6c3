"""The host's OCI platform and the choice of one manifest from an image index.

The image-spec ``platform`` object (image-index.md) names ``os``, ``architecture`` and an
optional ``variant``. Bolt nodes run Linux containers, so ``os`` is always ``linux``; the
architecture and variant come from ``platform.machine()`` mapped to the Go names the spec uses
(``GOARCH``, and for ARM the CPU variant). Matching follows containerd's platform matcher: an
exact variant is best; a 32-bit ARM host also runs older variants (v7 runs v6 and v5), newest
first; an entry without a variant matches any variant of its architecture, after the variants
that match; arm64's variant defaults to ``v8`` and amd64's to ``v1``.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from drift.bolt.errors import PullError

__all__ = ["Platform", "host_platform", "platform_of", "select_manifest"]

# platform.machine() -> (architecture, variant)
_MACHINES: Final[dict[str, tuple[str, str]]] = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "i386": ("386", ""),
    "i486": ("386", ""),
    "i586": ("386", ""),
    "i686": ("386", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv8l": ("arm", "v7"),  # 32-bit userland on an ARMv8 CPU runs armv7 binaries
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "armv5l": ("arm", "v5"),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "mips64": ("mips64", ""),
    "mips64el": ("mips64le", ""),
    "loongarch64": ("loong64", ""),
}
_DEFAULT_VARIANTS: Final = {"arm64": "v8", "amd64": "v1"}
_UNSPECIFIED_VARIANT_RANK: Final = 100


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


def host_platform(machine: str | None = None) -> Platform:
    """The platform of this machine (or of ``machine``, a ``platform.machine()`` value)."""
    machine = (machine if machine is not None else _platform.machine()).lower()
    architecture, variant = _MACHINES.get(machine, (machine, ""))
    return Platform("linux", architecture, variant)


def _variant_number(variant: str) -> int | None:
    if len(variant) > 1 and variant[0] == "v" and variant[1:].isdigit():
        return int(variant[1:])
    return None


def _rank(candidate: Platform, host: Platform) -> int | None:
    """How well ``candidate`` suits ``host``: 0 is exact, larger is worse, None never runs."""
    if candidate.os != host.os or candidate.architecture != host.architecture:
        return None
    default = _DEFAULT_VARIANTS.get(host.architecture, "")
    wanted = host.variant or default
    offered = candidate.variant or default
    if offered == wanted:
        return 0
    if not offered:
        return _UNSPECIFIED_VARIANT_RANK
    if host.architecture == "arm":
        have, want = _variant_number(offered), _variant_number(wanted)
        if have is not None and want is not None and have < want:
            return want - have
    return None


def platform_of(descriptor: Mapping[str, Any]) -> Platform | None:
    """The ``platform`` of an index entry, or None when it has none (or a malformed one)."""
    value = descriptor.get("platform")
    if not isinstance(value, Mapping):
        return None
    os_name, architecture = value.get("os"), value.get("architecture")
    variant = value.get("variant", "")
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        return None
    return Platform(os_name, architecture, variant if isinstance(variant, str) else "")


def select_manifest(manifests: Sequence[Mapping[str, Any]], host: Platform) -> Mapping[str, Any]:
    """The entry of an index's ``manifests`` that runs best on ``host`` (the first of equals)."""
    best: Mapping[str, Any] | None = None
    best_rank = 0
    offered: list[str] = []
    for descriptor in manifests:
        candidate = platform_of(descriptor)
        if candidate is None:
            continue
        offered.append(str(candidate))
        rank = _rank(candidate, host)
        if rank is not None and (best is None or rank < best_rank):
            best, best_rank = descriptor, rank
    if best is None:
        listing = ", ".join(dict.fromkeys(offered)) or "no platforms"
        raise PullError(f"no manifest for this platform ({host}) in the index; it has {listing}")
    return best
