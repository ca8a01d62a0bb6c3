"""What Drift announces over DNS-SD and how a client reads it back: one schema, both directions.

Two services per registry node (RFC 6763 service instance names, RFC 6335 service names):

- ``_oci-registry._tcp.local.``: the registry API; SRV port = API port.
- ``_drift-quic._udp.local.``: the HTTP/3 endpoint (only when QUIC is enabled); SRV port = QUIC.

Both carry the same TXT record (RFC 6763 section 6: short ``key=value`` strings, ``txtvers``
first): ``api``, ``ui`` and ``quic`` ports (``quic=`` empty without QUIC), ``tls=1|0``,
``version``, ``node``, ``path=/v2/`` and ``domain`` (the Bolt DNS domain), so either service alone
tells a client everything.

The instance label is ``drift-<node id> (<bolt domain>)``, or the configured ``[mdns] instance``
verbatim. RFC 6763 section 4.3 allows dots inside an instance label, but python-zeroconf (like many
other implementations) writes every dot as a label separator, so dots become ``-``:
``drift-node1 (bolt-local)``. The exact domain travels in the TXT record. The label is cut to the
63 bytes a DNS label allows. The SRV target is ``drift-<node id>.local.``, a host name of its own
so that it never clashes with the machine's host name announced by Avahi; node ids must therefore
be unique on the link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "API_SERVICE",
    "QUIC_SERVICE",
    "Announcement",
    "DiscoveredRegistry",
    "host_label",
    "instance_label",
    "parse_service",
]

API_SERVICE: Final = "_oci-registry._tcp.local."
QUIC_SERVICE: Final = "_drift-quic._udp.local."
_TXT_VERSION: Final = "1"
_MAX_LABEL_BYTES: Final = 63  # RFC 1035 section 2.3.4
_NOT_HOSTNAME: Final = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True, slots=True)
class Announcement:
    """The facts one node announces; ``quic_port`` None means no HTTP/3 endpoint."""

    instance: str
    host: str  # the SRV target, "<label>.local."
    addresses: tuple[str, ...]  # IPv4, never 0.0.0.0
    api_port: int
    ui_port: int
    quic_port: int | None
    tls: bool
    version: str
    node_id: str
    domain: str
    path: str = "/v2/"

    def txt(self) -> dict[str, str]:
        return {
            "txtvers": _TXT_VERSION,
            "api": str(self.api_port),
            "ui": str(self.ui_port),
            "quic": "" if self.quic_port is None else str(self.quic_port),
            "tls": "1" if self.tls else "0",
            "version": self.version,
            "node": self.node_id,
            "path": self.path,
            "domain": self.domain,
        }


@dataclass(frozen=True, slots=True)
class DiscoveredRegistry:
    """A registry node found over mDNS; ``address`` is the first of its IPv4 ``addresses``."""

    instance: str  # the instance label, e.g. "drift-node1 (bolt-local)"
    host: str
    addresses: tuple[str, ...]
    api_port: int
    quic_port: int | None
    ui_port: int | None
    tls: bool
    node_id: str
    version: str
    path: str
    domain: str

    @property
    def address(self) -> str:
        return self.addresses[0]

    @property
    def url(self) -> str:
        """The registry API base URL (scheme, address and port; append ``path``)."""
        return f"{'https' if self.tls else 'http'}://{self.address}:{self.api_port}"


def _fit_label(text: str) -> str:
    encoded = text.encode()[:_MAX_LABEL_BYTES]
    return encoded.decode(errors="ignore").strip()


def instance_label(node_id: str, domain: str, configured: str = "") -> str:
    """The DNS-SD instance label (no dots, at most 63 bytes)."""
    label = configured or f"drift-{node_id} ({domain.strip('.')})"
    return _fit_label(label.replace(".", "-"))


def host_label(node_id: str) -> str:
    """``drift-<node id>`` as an RFC 1123 host label: lower-case letters, digits, hyphens."""
    label = _NOT_HOSTNAME.sub("-", f"drift-{node_id}".lower()).strip("-")
    return label[:_MAX_LABEL_BYTES].rstrip("-")


def _port(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def parse_service(
    service_type: str,
    name: str,
    *,
    host: str,
    port: int,
    addresses: tuple[str, ...],
    txt: Mapping[str, str | None],
) -> DiscoveredRegistry | None:
    """A registry from one resolved service of either type, or None when the records are not
    Drift's (no API port, no address, a foreign TXT schema)."""
    if not addresses:
        return None
    if service_type == API_SERVICE:
        api_port: int | None = port
        quic_port = _port(txt.get("quic"))
    elif service_type == QUIC_SERVICE:
        api_port = _port(txt.get("api"))
        quic_port = port
    else:
        return None
    if api_port is None:
        return None
    return DiscoveredRegistry(
        instance=name.removesuffix(f".{service_type}"),
        host=host,
        addresses=addresses,
        api_port=api_port,
        quic_port=quic_port,
        ui_port=_port(txt.get("ui")),
        tls=txt.get("tls") == "1",
        node_id=txt.get("node") or "",
        version=txt.get("version") or "",
        path=txt.get("path") or "/v2/",
        domain=txt.get("domain") or "",
    )
