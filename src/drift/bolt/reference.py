"""``[REGISTRY/]REPOSITORY[:TAG][@DIGEST]``: what ``driftctl pull`` is asked to fetch.

The first path component names the registry when it looks like a host, as Docker decides it
(distribution's reference grammar): it contains a ``.`` or a ``:``, or is ``localhost``.
REGISTRY is ``host[:port]`` (``[v6]:port`` for IPv6) with the registry's UDP port for HTTP/3,
``DEFAULT_QUIC_PORT`` when omitted. Without tag or digest the tag is ``latest``; with both, the
digest decides and the tag only names the image in the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from drift.bolt.errors import PullError
from drift.oci.digest import parse_digest
from drift.oci.errors import RegistryError
from drift.oci.names import validate_name, validate_tag

__all__ = [
    "DEFAULT_QUIC_PORT",
    "DEFAULT_TAG",
    "Endpoint",
    "ImageReference",
    "parse_endpoint",
    "parse_reference",
]

DEFAULT_QUIC_PORT: Final = 4433
DEFAULT_TAG: Final = "latest"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the registry's HTTP/3 listener answers."""

    host: str  # a name or an IP address, without brackets
    port: int

    @property
    def authority(self) -> str:
        """``host:port`` as it appears in a URL (RFC 3986 section 3.2.2)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ImageReference:
    registry: Endpoint | None  # None: to be discovered over mDNS
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """The manifest reference of the API path: the digest if any, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        where = f"{self.registry.authority}/" if self.registry is not None else ""
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{where}{self.repository}{tag}{digest}"


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse_endpoint(text: str) -> Endpoint:
    """``host``, ``host:port`` or ``[v6]:port``."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise PullError(f"invalid registry address {text!r}")
        colon, port_text = rest[:1], rest[1:]
    else:
        host, colon, port_text = text.partition(":")
    if not host:
        raise PullError(f"invalid registry address {text!r}: no host")
    if not colon:
        return Endpoint(host, DEFAULT_QUIC_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PullError(f"invalid registry address {text!r}: bad port {port_text!r}")
    return Endpoint(host, int(port_text))


def parse_reference(text: str, *, registry_optional: bool = False) -> ImageReference:
    """Parse ``text``; ``registry_optional``: the registry may be left to discovery."""
    rest, at, digest = text.partition("@")
    first, slash, remainder = rest.partition("/")
    registry: Endpoint | None = None
    if slash and _looks_like_host(first):
        registry = parse_endpoint(first)
        rest = remainder
    elif not registry_optional:
        raise PullError(
            f"{text!r} names no registry: expected REGISTRY/REPOSITORY:TAG "
            "(REGISTRY = host[:port], e.g. 127.0.0.1:4433), or use --discover"
        )
    repository, colon, tag = rest.rpartition(":") if ":" in rest else (rest, "", "")
    try:
        validate_name(repository)
        if colon:
            validate_tag(tag)
        if at:
            parse_digest(digest)
    except RegistryError as exc:
        raise PullError(f"invalid image reference {text!r}: {exc.message}") from None
    return ImageReference(
        registry=registry,
        repository=repository,
        tag=tag if colon else (None if at else DEFAULT_TAG),
        digest=digest if at else None,
    )
