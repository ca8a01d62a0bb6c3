"""What Drift announces (instance label, host label, TXT) and how it is read back, without
sockets; and how ``[mdns] interface`` resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift.config.settings import MdnsSettings, QuicSettings, ServerSettings, Settings
from drift.discovery.announce import build_announcement
from drift.discovery.interfaces import MdnsError, MdnsInterface, resolve_interface
from drift.discovery.records import (
    API_SERVICE,
    QUIC_SERVICE,
    DiscoveredRegistry,
    host_label,
    instance_label,
    parse_service,
)

LOOPBACK = MdnsInterface("lo", ("127.0.0.1",))


def test_instance_label_carries_the_domain_without_dots() -> None:
    assert instance_label("node1", "bolt.local") == "drift-node1 (bolt-local)"
    assert instance_label("n.example.org", "bolt.local.") == "drift-n-example-org (bolt-local)"
    assert instance_label("node1", "bolt.local", "Build farm 2.1") == "Build farm 2-1"


def test_instance_label_fits_a_dns_label_even_in_utf8() -> None:
    label = instance_label("ü" * 40, "bolt.local")
    assert len(label.encode()) <= 63
    assert label.startswith("drift-üü")


def test_host_label_is_an_rfc1123_label() -> None:
    assert host_label("Node_1.example") == "drift-node-1-example"
    assert host_label("x" * 80) == "drift-" + "x" * 57


def test_the_announcement_follows_theSettings() -> None:
    settings = Settings(
        server=ServerSettings(ui_port=5101, tls_cert=Path("c.pem")),
        quic=QuicSettings(node_id="n1", bind_port=4433),
        mdns=MdnsSettings(domain="bolt.test"),
    )
    announcement = build_announcement(settings, LOOPBACK, 5100)
    assert (announcement.instance, announcement.host) == ("drift-n1 (bolt-test)", "drift-n1.local.")
    assert announcement.txt() == {
        "txtvers": "1",
        "api": "5100",
        "ui": "5101",
        "quic": "4433",
        "tls": "1",
        "version": announcement.version,
        "node": "n1",
        "path": "/v2/",
        "domain": "bolt.test",
    }
    assert build_announcement(settings, LOOPBACK, 5100, quic_port=9443).quic_port == 9443


def test_without_quic_the_quic_port_is_empty() -> None:
    settings = Settings(quic=QuicSettings(enabled=False, node_id="n1"))
    announcement = build_announcement(settings, LOOPBACK, 5000)
    assert announcement.quic_port is None
    assert announcement.txt()["quic"] == ""


def test_either_service_alone_describes_the_registry() -> None:
    txt = {
        "api": "5000",
        "ui": "5001",
        "quic": "4433",
        "tls": "1",
        "node": "n1",
        "version": "0.1.0",
        "path": "/v2/",
        "domain": "bolt.local",
    }

    def read(service_type: str, port: int) -> DiscoveredRegistry | None:
        name = f"drift-n1 (bolt-local).{service_type}"
        return parse_service(
            service_type, name, host="drift-n1.local.", port=port, addresses=("10.0.0.5",), txt=txt
        )

    via_api, via_quic = read(API_SERVICE, 5000), read(QUIC_SERVICE, 4433)
    assert via_api == via_quic
    assert via_api is not None
    assert via_api.instance == "drift-n1 (bolt-local)"
    assert (via_api.url, via_api.quic_port, via_api.ui_port) == (
        "https://10.0.0.5:5000",
        4433,
        5001,
    )


@pytest.mark.parametrize(
    ("service_type", "port", "txt", "addresses"),
    [
        (QUIC_SERVICE, 4433, {"api": "not-a-port"}, ("10.0.0.5",)),
        (QUIC_SERVICE, 4433, {}, ("10.0.0.5",)),
        (API_SERVICE, 5000, {}, ()),
        ("_http._tcp.local.", 80, {"api": "80"}, ("10.0.0.5",)),
    ],
)
def test_foreign_or_broken_records_are_not_registries(
    service_type: str, port: int, txt: dict[str, str], addresses: tuple[str, ...]
) -> None:
    name = f"x.{service_type}"
    found = parse_service(
        service_type, name, host="h.local.", port=port, addresses=addresses, txt=txt
    )
    assert found is None


def test_an_api_service_without_quic_reads_as_no_quic() -> None:
    found = parse_service(
        API_SERVICE,
        f"x.{API_SERVICE}",
        host="h.local.",
        port=5000,
        addresses=("10.0.0.5",),
        txt={"quic": "", "tls": "0"},
    )
    assert found is not None
    assert (found.quic_port, found.tls, found.path) == (None, False, "/v2/")


def test_interfaces_resolve_by_name_or_address() -> None:
    assert resolve_interface("lo") == LOOPBACK
    assert resolve_interface("127.0.0.1") == LOOPBACK
    assert LOOPBACK.zeroconf_interfaces == ["127.0.0.1"]
    everywhere = resolve_interface("")
    assert everywhere.name is None
    assert everywhere.addresses  # loopback only when nothing else has an IPv4 address


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("nosuch0", "no network interface 'nosuch0'"),
        ("::1", "IPv4 only"),
        ("10.255.255.254", "no network interface '10.255.255.254'"),
    ],
)
def test_unknown_interfaces_are_refused(setting: str, message: str) -> None:
    with pytest.raises(MdnsError, match=message):
        resolve_interface(setting)
