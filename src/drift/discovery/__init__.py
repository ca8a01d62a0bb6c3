"""mDNS/DNS-SD: announcing a Drift node (``MdnsAnnouncer``) and finding registries (``discover``).

python-zeroconf does the protocol; this package decides what is announced (``records``) and
keeps every socket on the configured interface (``interfaces``).
"""

from __future__ import annotations

from drift.discovery.announce import MdnsAnnouncer
from drift.discovery.browse import discover
from drift.discovery.interfaces import MdnsError
from drift.discovery.records import API_SERVICE, QUIC_SERVICE, DiscoveredRegistry

__all__ = [
    "API_SERVICE",
    "QUIC_SERVICE",
    "DiscoveredRegistry",
    "MdnsAnnouncer",
    "MdnsError",
    "discover",
]
