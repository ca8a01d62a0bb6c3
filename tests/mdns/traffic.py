"""Observing mDNS traffic: who holds the mDNS port, and what leaves through which interface.

``MdnsCapture`` reads every IP packet the host sends or receives (an ``AF_PACKET`` socket, root
or CAP_NET_RAW) and counts the mDNS and IGMP packets by interface, so that a test can prove
that nothing of it leaves through any interface but ``lo``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections import Counter
from pathlib import Path
from typing import Final, Self

import pytest

from tests.support.lifecycle import ClosesOnExit

__all__ = ["MdnsCapture", "mdns_socket_holders"]

MDNS_PORT: Final = 5353
_ETH_P_ALL: Final = 0x0003
_ETH_P_IP: Final = 0x0800
_ETH_P_IPV6: Final = 0x86DD
_PACKET_OUTGOING: Final = 4
_IGMP: Final = 2
_UDP: Final = 17
_MDNS_GROUP_V4: Final = socket.inet_aton("224.0.0.251")
_MDNS_GROUP_V6: Final = socket.inet_pton(socket.AF_INET6, "ff02::fb")


def _udp_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def mdns_socket_holders(pids: list[int]) -> set[int]:
    """The pids among ``pids`` holding a UDP socket on the mDNS port."""
    wanted = {f"socket:[{inode}]" for inode in _udp_inodes(MDNS_PORT)}
    holders: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for descriptor in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(descriptor) in wanted:
                        holders.add(pid)
    return holders


def _is_mdns_or_igmp(ethertype: int, packet: bytes) -> bool:
    if ethertype == _ETH_P_IP and len(packet) >= 20:
        header = (packet[0] & 0x0F) * 4
        protocol, destination = packet[9], packet[16:20]
        if protocol == _IGMP or destination == _MDNS_GROUP_V4:
            return True
        if protocol == _UDP and len(packet) >= header + 4:
            ports = struct.unpack_from("!HH", packet, header)
            return MDNS_PORT in ports
    if ethertype == _ETH_P_IPV6 and len(packet) >= 44:
        if packet[24:40] == _MDNS_GROUP_V6:
            return True
        if packet[6] == _UDP:
            return MDNS_PORT in struct.unpack_from("!HH", packet, 40)
    return False


class MdnsCapture(ClosesOnExit):
    """Counts outgoing mDNS/IGMP packets per interface while open."""

    def __init__(self) -> None:
        # SOCK_DGRAM: packets without their link-layer header, whatever the interface type.
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_ALL))
        self._sock.settimeout(0.1)
        self.outgoing: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @classmethod
    def start(cls) -> Self:
        """A running capture; skips the test without CAP_NET_RAW."""
        try:
            capture = cls()
        except PermissionError:
            pytest.skip("capturing packets (to prove mDNS stays on lo) needs CAP_NET_RAW")
        capture._thread.start()
        return capture

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                packet, (interface, ethertype, packet_type, *_) = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            if packet_type == _PACKET_OUTGOING and _is_mdns_or_igmp(ethertype, packet):
                self.outgoing[interface] += 1

    def elsewhere(self) -> dict[str, int]:
        """Outgoing mDNS/IGMP packets per interface other than ``lo``."""
        return {name: count for name, count in self.outgoing.items() if name != "lo"}

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()
