"""Announcing one Drift node over mDNS/DNS-SD for as long as it serves.

One process per node announces (worker 0, next to the upload purger: ``drift.server.worker``), so
several workers never register the same services several times. Registration runs in the
background: probing for the names (RFC 6762 section 8.1) takes about two seconds and must not
delay serving. A name another responder already owns is changed (zeroconf appends ``-2``, ``-3``,
as RFC 6762 section 9 asks) and the change logged; any other failure (no such interface, the mDNS
port taken by a responder that shares it with nobody) is logged and the node serves unannounced.
``close`` sends the goodbye packets (records with TTL 0, RFC 6762 section 10.1) when the node
starts shutting down, before its drain period, so that clients stop choosing it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import zeroconf
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from drift import __version__
from drift.config.settings import Settings
from drift.discovery.interfaces import MdnsError, MdnsInterface, open_zeroconf, resolve_interface
from drift.discovery.records import (
    API_SERVICE,
    QUIC_SERVICE,
    Announcement,
    host_label,
    instance_label,
)

__all__ = ["MdnsAnnouncer", "build_announcement", "node_id"]

_log = logging.getLogger(__name__)
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - compared with, never bound


def node_id(settings: Settings) -> str:
    """``[quic] node_id``, or the host name: how Bolt nodes tell registry nodes apart."""
    return settings.quic.node_id or socket.gethostname()


def build_announcement(
    settings: Settings, interface: MdnsInterface, api_port: int, quic_port: int | None = None
) -> Announcement:
    """What this node announces. ``quic_port``: the port the QUIC listener is bound to (the worker
    knows it), else ``[quic] bind_port``; without ``[quic] enabled`` there is no QUIC service."""
    node = node_id(settings)
    quic: int | None = None
    if settings.quic.enabled:
        quic = quic_port or settings.quic.bind_port or None
        if quic is None:
            _log.warning("mDNS: the QUIC port is not known yet (port 0): not announcing QUIC")
    return Announcement(
        instance=instance_label(node, settings.mdns.domain, settings.mdns.instance),
        host=f"{host_label(node)}.local.",
        addresses=interface.addresses,
        api_port=api_port,
        ui_port=settings.server.ui_port,
        quic_port=quic,
        tls=settings.server.tls_cert is not None,
        version=__version__,
        node_id=node,
        domain=settings.mdns.domain,
    )


def _service_info(service_type: str, port: int, announcement: Announcement) -> ServiceInfo:
    return ServiceInfo(
        service_type,
        f"{announcement.instance}.{service_type}",
        port=port,
        properties=announcement.txt(),
        server=announcement.host,
        parsed_addresses=list(announcement.addresses),
    )


def _service_infos(announcement: Announcement) -> list[ServiceInfo]:
    infos = [_service_info(API_SERVICE, announcement.api_port, announcement)]
    if announcement.quic_port is not None:
        infos.append(_service_info(QUIC_SERVICE, announcement.quic_port, announcement))
    return infos


class MdnsAnnouncer:
    """The node's DNS-SD services, registered from ``start`` until ``close``."""

    def __init__(self, settings: Settings, api_port: int, quic_port: int | None) -> None:
        self._settings = settings
        self._api_port = api_port
        self._quic_port = quic_port
        self._zeroconf: AsyncZeroconf | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def start(
        cls, settings: Settings, api_port: int, quic_port: int | None = None
    ) -> MdnsAnnouncer:
        """Begin announcing in the background, on the running loop."""
        announcer = cls(settings, api_port, quic_port)
        announcer._task = asyncio.get_running_loop().create_task(announcer._announce())
        return announcer

    async def _announce(self) -> None:
        setting = self._settings.mdns.interface
        try:
            interface = resolve_interface(setting)
            announcement = build_announcement(
                self._settings, interface, self._api_port, self._quic_port
            )
            self._warn_if_unreachable(interface)
            self._zeroconf = await open_zeroconf(interface)
            infos = _service_infos(announcement)
            await asyncio.gather(*(self._register(info) for info in infos))
        except (MdnsError, OSError, zeroconf.Error) as exc:
            _log.error(
                "mDNS announcement failed (mdns.interface=%r): %s; serving without it",
                setting,
                str(exc) or type(exc).__name__,
            )
            return
        _log.info(
            "announced over mDNS on %s: %s (%s)",
            interface.describe(),
            announcement.instance,
            ", ".join(f"{info.type} port {info.port}" for info in infos),
        )

    async def _register(self, info: ServiceInfo) -> None:
        assert self._zeroconf is not None
        wanted = info.name
        announced = await self._zeroconf.async_register_service(info, allow_name_change=True)
        if info.name != wanted:
            _log.warning(
                "mDNS: the name %r is taken on the network; announced as %r", wanted, info.name
            )
        await announced

    def _warn_if_unreachable(self, interface: MdnsInterface) -> None:
        host = self._settings.server.bind_host
        if host not in _WILDCARDS and host not in interface.addresses:
            _log.warning(
                "mDNS: the registry API listens on %s only, which is not an address announced on "
                "%s (%s): discovering clients will not reach it",
                host,
                interface.describe(),
                ", ".join(interface.addresses),
            )

    async def close(self) -> None:
        """Stop registering, send the goodbyes for what was registered, release the sockets."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        zc, self._zeroconf = self._zeroconf, None
        if zc is not None:
            await zc.async_close()  # unregisters every service first: the goodbye packets
