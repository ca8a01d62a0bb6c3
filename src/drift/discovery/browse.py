"""Finding Drift registries over mDNS: what ``driftctl pull --discover`` calls.

Browses both service types (``records.API_SERVICE``, ``records.QUIC_SERVICE``) on one interface
only (see ``drift.discovery.interfaces``), resolves every instance that appears and merges the two
services of one node (same SRV target host and API port) into one ``DiscoveredRegistry``.

A one-shot client (RFC 6762 section 5.1): zeroconf runs in unicast mode, on an ephemeral port of
the interface's address instead of 5353. Responders answer a query from a port other than 5353
directly by unicast to that port (section 6.7), at once and to this socket alone. Sharing port
5353 instead would make the answers race: several mDNS stacks on one host (Drift, Avahi, this
client) share it with ``SO_REUSEPORT``, the kernel hands a unicast datagram to only one of their
sockets, and multicast answers are rate-limited to one per record per second (section 6).
The price: announcements are not heard, so a registry that starts while ``discover`` runs is
found at zeroconf's next query (about 0.1, 1, 5 and 14 s after the start); one that already runs
answers the first query (25-100 ms on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from typing import Final

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo

from drift.discovery.interfaces import open_zeroconf, resolve_interface
from drift.discovery.records import (
    API_SERVICE,
    QUIC_SERVICE,
    DiscoveredRegistry,
    parse_service,
)

__all__ = ["discover"]

_log = logging.getLogger(__name__)
_MIN_RESOLVE_MS: Final = 200


def _same_domain(found: str, wanted: str) -> bool:
    return found.strip(".").lower() == wanted.strip(".").lower()


def _merge(api: DiscoveredRegistry | None, quic: DiscoveredRegistry | None) -> DiscoveredRegistry:
    """One node's two services as one registry: the API service names the instance, the QUIC
    service's SRV record gives the QUIC port."""
    if api is None:
        assert quic is not None
        return quic
    return api if quic is None else replace(api, quic_port=quic.quic_port)


class _Collector:
    def __init__(self, zc: Zeroconf, deadline: float, domain: str | None, limit: int | None):
        self._zc = zc
        self._deadline = deadline
        self._domain = domain
        self._limit = limit
        self._found: dict[tuple[str, str], DiscoveredRegistry] = {}  # by (type, name)
        self.enough = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def on_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        del zeroconf  # the browser's signature; it is self._zc
        if state_change is ServiceStateChange.Removed:  # a goodbye within the browsing window
            self._found.pop((service_type, name), None)
            return
        task = asyncio.get_running_loop().create_task(self._resolve(service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        remaining_ms = (self._deadline - time.monotonic()) * 1000
        timeout_ms = max(remaining_ms, _MIN_RESOLVE_MS)
        if not await info.async_request(self._zc, timeout_ms):
            return
        registry = parse_service(
            service_type,
            name,
            host=info.server or "",
            port=info.port or 0,
            addresses=tuple(info.parsed_addresses(IPVersion.V4Only)),
            txt=info.decoded_properties,
        )
        if registry is None:
            _log.debug("mDNS: %s is not a Drift registry (TXT %r)", name, info.properties)
            return
        if self._domain is not None and not _same_domain(registry.domain, self._domain):
            return
        self._found[service_type, name] = registry
        if self._limit is not None and len(self.registries()) >= self._limit:
            self.enough.set()

    def registries(self) -> list[DiscoveredRegistry]:
        by_node: dict[str, dict[tuple[str, int], DiscoveredRegistry]] = {
            API_SERVICE: {},
            QUIC_SERVICE: {},
        }
        for (service_type, _), registry in self._found.items():
            by_node[service_type][registry.host.lower(), registry.api_port] = registry
        api, quic = by_node[API_SERVICE], by_node[QUIC_SERVICE]
        merged = [_merge(api.get(key), quic.get(key)) for key in api.keys() | quic.keys()]
        return sorted(merged, key=lambda registry: registry.instance)

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def discover(
    interface: str,
    timeout: float,  # noqa: ASYNC109 - the browsing window, not a cancellation deadline
    domain: str | None = None,
    *,
    limit: int | None = None,
) -> list[DiscoveredRegistry]:
    """The Drift registries that answer on ``interface`` (a name such as ``lo``, one of its IPv4
    addresses, or "" for every interface) within ``timeout`` seconds, sorted by instance name.

    ``domain`` keeps only registries announcing that Bolt DNS domain; ``limit`` returns as soon
    as that many registries are resolved instead of browsing for the whole ``timeout``. Raises
    ``MdnsError`` for an unknown interface and ``OSError`` when mDNS cannot run on it.
    """
    deadline = time.monotonic() + timeout
    zc = await open_zeroconf(resolve_interface(interface), unicast=True)
    collector = _Collector(zc.zeroconf, deadline, domain, limit)
    browser = AsyncServiceBrowser(
        zc.zeroconf,
        [API_SERVICE, QUIC_SERVICE],
        handlers=[collector.on_change],
    )
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(collector.enough.wait(), max(0.0, timeout))
    finally:
        await browser.async_cancel()
        await collector.cancel()
        await zc.async_close()
    return collector.registries()
