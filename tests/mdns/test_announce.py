"""mDNS/DNS-SD announcement of a running Drift, observed from other processes on ``lo`` only:
both services with their TXT records, one registration per node whatever the worker count,
goodbyes on shutdown, ``discover()``, name conflicts and a missing interface."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from zeroconf import ServiceInfo

from drift import __version__
from drift.discovery import MdnsError, discover
from drift.discovery.interfaces import open_zeroconf, resolve_interface
from tests.mdns.conftest import API_SERVICE, QUIC_SERVICE, BrowserProcess, Event
from tests.mdns.traffic import MdnsCapture, mdns_socket_holders
from tests.support.servers import RunningRegistry, free_port, start_drift

DOMAIN = "edge.bolt.local"
ANNOUNCED = "announced over mDNS on interface lo"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mdns_env(node_id: str, **extra: str) -> dict[str, str]:
    return {
        "DRIFT_MDNS_ENABLED": "true",
        "DRIFT_MDNS_INTERFACE": "lo",
        "DRIFT_MDNS_DOMAIN": DOMAIN,
        "DRIFT_QUIC_NODE_ID": node_id,
        "DRIFT_LOG": "info",  # "announced over mDNS" tells when registration is complete
        **extra,
    }


def wait_for_log(drift: RunningRegistry, text: str, timeout: float = 10.0) -> str:
    """The server's log once it contains ``text`` (the log is polled)."""
    deadline = time.monotonic() + timeout
    while text not in (log := drift.log_tail()):
        assert time.monotonic() < deadline, f"{text!r} not logged; log tail:\n{log}"
        time.sleep(0.05)
    return log


def of_node(node_id: str, service_type: str, event: str) -> Callable[[Event], bool]:
    return lambda e: (
        e["event"] == event
        and e["type"] == service_type
        and e.get("txt", {}).get("node") == node_id
    )


def withdrawn(service_type: str, name: str) -> Callable[[Event], bool]:
    return lambda e: (e["event"], e.get("type"), e.get("name")) == ("removed", service_type, name)


def instances(browser: BrowserProcess, node_id: str, service_type: str) -> set[str]:
    return {
        e["name"]
        for e in browser.events
        if e.get("type") == service_type and e.get("txt", {}).get("node") == node_id
    }


def test_both_services_are_announced_once_and_withdrawn_on_shutdown(
    tmp_path: Path, browser: Callable[[list[str]], BrowserProcess], node_id: str
) -> None:
    quic_port, ui_port = free_udp_port(), free_port()
    env = mdns_env(
        node_id,
        DRIFT_QUIC_ENABLED="true",
        DRIFT_QUIC_ADDR=f"127.0.0.1:{quic_port}",
        DRIFT_UI_ADDR=f"127.0.0.1:{ui_port}",
    )
    watcher = browser([API_SERVICE, QUIC_SERVICE])
    with MdnsCapture.start() as capture:
        drift = start_drift(tmp_path / "data", workers=2, env=env)
        with drift:
            api = watcher.wait_for(of_node(node_id, API_SERVICE, "added"), "the API service")
            quic = watcher.wait_for(of_node(node_id, QUIC_SERVICE, "added"), "the QUIC service")
            holders = mdns_socket_holders(drift.pids())
        watcher.wait_for(withdrawn(API_SERVICE, api["name"]), "the API goodbye")
        watcher.wait_for(withdrawn(QUIC_SERVICE, quic["name"]), "the QUIC goodbye")
    label = f"drift-{node_id} (edge-bolt-local)"
    assert api["name"] == f"{label}.{API_SERVICE}"
    assert quic["name"] == f"{label}.{QUIC_SERVICE}"
    assert (api["port"], quic["port"]) == (drift.port, quic_port)
    for service in (api, quic):
        assert service["server"] == f"drift-{node_id}.local."
        assert service["addresses"] == ["127.0.0.1"]
        assert service["txt"] == {
            "txtvers": "1",
            "api": str(drift.port),
            "ui": str(ui_port),
            "quic": str(quic_port),
            "tls": "0",
            "version": __version__,
            "node": node_id,
            "path": "/v2/",
            "domain": DOMAIN,
        }
    # Two workers, one announcing process: one holder of the mDNS port, one instance per type
    # (a second registration would have shown up renamed "... -2").
    assert len(holders) == 1
    assert instances(watcher, node_id, API_SERVICE) == {api["name"]}
    assert instances(watcher, node_id, QUIC_SERVICE) == {quic["name"]}
    # mDNS stayed on the loopback interface (and the capture did see it there).
    assert capture.outgoing["lo"] > 0
    assert capture.elsewhere() == {}


async def test_discover_finds_the_registry(
    tmp_path: Path, loopback_multicast: None, node_id: str
) -> None:
    domain = f"{node_id}.bolt.local"  # this test's registry only
    with start_drift(tmp_path / "data", env=mdns_env(node_id, DRIFT_MDNS_DOMAIN=domain)) as drift:
        wait_for_log(drift, ANNOUNCED)
        with MdnsCapture.start() as capture:
            [found] = await discover("lo", 10.0, domain, limit=1)
            elsewhere = await discover("lo", 0.5, "elsewhere.bolt.local")
    assert found.instance == f"drift-{node_id} ({node_id}-bolt-local)"
    assert (found.address, found.addresses, found.host) == (
        "127.0.0.1",
        ("127.0.0.1",),
        f"drift-{node_id}.local.",
    )
    assert (found.api_port, found.quic_port, found.tls) == (drift.port, None, False)
    assert (found.node_id, found.version, found.path, found.domain) == (
        node_id,
        __version__,
        "/v2/",
        domain,
    )
    assert found.url == drift.url
    assert all(registry.node_id != node_id for registry in elsewhere)
    assert capture.outgoing["lo"] > 0
    assert capture.elsewhere() == {}


async def test_a_name_taken_on_the_network_is_changed_and_the_node_still_announced(
    tmp_path: Path, loopback_multicast: None, node_id: str
) -> None:
    domain = f"{node_id}.bolt.local"
    label = f"drift-{node_id} ({node_id}-bolt-local)"
    # Another responder owns the name. Its records' TTL is so short that it answers Drift's
    # probes by multicast (RFC 6762 section 5.4, "not multicast within a quarter of the TTL"):
    # a unicast answer to 127.0.0.1:5353 could reach any of the mDNS sockets on this host.
    squatter = ServiceInfo(
        API_SERVICE,
        f"{label}.{API_SERVICE}",
        port=9,
        server="squatter.local.",
        parsed_addresses=["127.0.0.1"],
        host_ttl=1,
        other_ttl=1,
    )
    env = mdns_env(node_id, DRIFT_MDNS_DOMAIN=domain)
    async with await open_zeroconf(resolve_interface("lo")) as squatting:
        await squatting.async_register_service(squatter, cooperating_responders=True)
        # Blocking waits in threads: this loop must stay free to defend the name.
        with await asyncio.to_thread(start_drift, tmp_path / "data", env=env) as drift:
            log = await asyncio.to_thread(wait_for_log, drift, ANNOUNCED)
            [found] = await discover("lo", 10.0, domain, limit=1)
    assert (found.instance, found.api_port) == (f"{label}-2", drift.port)
    assert "is taken on the network" in log


def test_a_missing_interface_is_logged_and_the_registry_serves(
    tmp_path: Path, node_id: str
) -> None:
    env = mdns_env(node_id, DRIFT_MDNS_INTERFACE="nosuch0")
    with start_drift(tmp_path / "data", env=env) as drift:
        log = wait_for_log(drift, "mDNS announcement failed")
        assert "no network interface 'nosuch0'" in log
        assert drift.process.poll() is None


async def test_discover_refuses_an_unknown_interface() -> None:
    with pytest.raises(MdnsError, match="nosuch0"):
        await discover("nosuch0", 0.5)
