"""Which network interface mDNS uses, and a zeroconf instance that uses that interface only.

``[mdns] interface`` names an interface (``lo``, ``eth0``) or one of its IPv4 addresses
(``127.0.0.1``); empty means every interface with an IPv4 address. mDNS here is IPv4 only.

With one interface, python-zeroconf is given that interface's address. It then opens (see
``zeroconf._utils.net.create_sockets``) a listening socket on ``0.0.0.0:5353`` that joins
224.0.0.251 on that interface only (``IP_ADD_MEMBERSHIP`` with the interface address), and one
sending socket bound to the interface address with ``IP_MULTICAST_IF`` set to it: every multicast
datagram leaves through that interface, and a socket bound to 127.0.0.1 cannot send anywhere but
``lo`` (Linux refuses loopback sources on other devices unless ``route_localnet`` is set).

Two paths remain open in that setup, and ``_pin`` closes them: the wildcard listening socket
would also receive 224.0.0.251 traffic arriving on other interfaces whenever any process on the
host joined the group there (``IP_MULTICAST_ALL`` is on by default), and zeroconf answers a
unicast-response question through the socket the question came in on, i.e. possibly onto that
other network. ``SO_BINDTODEVICE`` on every zeroconf socket makes the kernel deliver and send
through the chosen interface only; ``IP_MULTICAST_ALL=0`` keeps the group traffic of other
interfaces away even where binding to a device is not permitted. Both are set before anything is
registered or browsed, so nothing is ever answered on another interface (a datagram that reached
the listening socket in the instant between zeroconf opening it and the pinning is still read).

In unicast mode (the one-shot querier of ``discover``) zeroconf opens only the sending socket, on
an ephemeral port, and leaves its ``IP_MULTICAST_IF`` unset; ``open_zeroconf`` sets it.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from dataclasses import dataclass
from typing import Final

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncZeroconf

__all__ = ["MdnsError", "MdnsInterface", "open_zeroconf", "resolve_interface"]

_log = logging.getLogger(__name__)
_IP_MULTICAST_ALL: Final = getattr(socket, "IP_MULTICAST_ALL", 49)  # Linux, <linux/in.h>


class MdnsError(Exception):
    """mDNS cannot run as configured (no such interface, no IPv4 address on it)."""


@dataclass(frozen=True, slots=True)
class MdnsInterface:
    """``name`` None: every interface. ``addresses``: the IPv4 addresses to announce."""

    name: str | None
    addresses: tuple[str, ...]

    @property
    def zeroconf_interfaces(self) -> InterfaceChoice | list[str]:
        # One address per interface: zeroconf joins the group once per address given.
        return InterfaceChoice.All if self.name is None else [self.addresses[0]]

    def describe(self) -> str:
        return "every interface" if self.name is None else f"interface {self.name}"


def _ipv4_addresses(adapter: ifaddr.Adapter) -> list[str]:
    return [str(ip.ip) for ip in adapter.ips if ip.is_IPv4]


def resolve_interface(setting: str) -> MdnsInterface:
    """The interface ``[mdns] interface`` names; raises ``MdnsError`` when there is none."""
    adapters = ifaddr.get_adapters()
    wanted = setting.strip()
    if not wanted:
        everywhere = [a for adapter in adapters for a in _ipv4_addresses(adapter)]
        routable = [a for a in everywhere if not ipaddress.IPv4Address(a).is_loopback]
        if not everywhere:
            raise MdnsError("no network interface has an IPv4 address")
        # Loopback addresses mean nothing to other hosts: announce them only when alone.
        return MdnsInterface(None, tuple(routable or everywhere))
    try:
        address = ipaddress.ip_address(wanted)
    except ValueError:
        address = None
    for adapter in adapters:
        ipv4 = _ipv4_addresses(adapter)
        if address is None and wanted in (adapter.name, adapter.nice_name):
            if not ipv4:
                raise MdnsError(f"interface {wanted!r} has no IPv4 address (mDNS is IPv4 only)")
            return MdnsInterface(adapter.name, tuple(ipv4))
        if address is not None and str(address) in ipv4:
            return MdnsInterface(adapter.name, (str(address), *(a for a in ipv4 if a != wanted)))
    if address is not None and address.version == 6:
        raise MdnsError(f"{wanted!r} is an IPv6 address: mDNS announces over IPv4 only")
    known = ", ".join(adapter.name for adapter in adapters) or "none"
    raise MdnsError(f"no network interface {wanted!r} (interfaces: {known})")


def _pin(sock: socket.socket, name: str) -> None:
    sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, name.encode())
    except PermissionError:  # before Linux 5.7 without CAP_NET_RAW
        _log.warning(
            "mDNS: cannot bind to device %s (needs CAP_NET_RAW on this kernel); unicast "
            "answers may leave through another interface",
            name,
        )


async def open_zeroconf(interface: MdnsInterface, unicast: bool = False) -> AsyncZeroconf:
    """A started zeroconf bound to ``interface`` (on the running loop); ``unicast`` for a querier
    on an ephemeral port (``drift.discovery.browse``). ``OSError`` when the mDNS port cannot be
    opened (e.g. Avahi with ``disallow-other-stacks=yes``)."""
    zeroconf = AsyncZeroconf(
        interfaces=interface.zeroconf_interfaces, unicast=unicast, ip_version=IPVersion.V4Only
    )
    try:
        await zeroconf.zeroconf.async_wait_for_start()
        engine = zeroconf.zeroconf.engine
        if interface.name is not None and sys.platform.startswith("linux"):
            for reader in engine.readers:
                _pin(reader.sock, interface.name)
        for sender in engine.senders:  # unicast mode leaves the multicast interface unset
            address = socket.inet_aton(sender.sock_name[0])
            sender.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, address)
        if not engine.senders:
            raise OSError(f"mDNS: no socket could be opened on {interface.describe()}")
    except BaseException:
        await zeroconf.async_close()
        raise
    return zeroconf
