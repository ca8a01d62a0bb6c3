"""``driftctl pull --http3 --discover``: the registry is found over mDNS on ``lo`` (never another
interface) and the image pulled from its announced address and QUIC port."""

from __future__ import annotations

import random
import secrets
import time
from pathlib import Path

from tests.bolt.pulling import DRIFTCTL, assert_layout_holds, pin_of, push_image, run_pull
from tests.support.images import build_image
from tests.support.quic import H3Server, start_drift_h3
from tests.support.rawhttp import HttpClient
from tests.support.registry import RegistryApi

ANNOUNCED = "announced over mDNS on interface lo"


def wait_announced(server: H3Server, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while ANNOUNCED not in server.registry.log_tail():
        assert time.monotonic() < deadline, server.registry.log_tail()
        time.sleep(0.05)


def test_discover_finds_the_registry_on_loopback(
    loopback_multicast: None, rng: random.Random, tmp_path: Path
) -> None:
    domain = f"bolt-{secrets.token_hex(4)}.local"  # other runs on this machine announce too
    env = {
        "DRIFT_MDNS_ENABLED": "true",
        "DRIFT_MDNS_INTERFACE": "lo",
        "DRIFT_MDNS_DOMAIN": domain,
        "DRIFT_QUIC_NODE_ID": f"n{secrets.token_hex(4)}",
        "DRIFT_LOG": "info",
    }
    image = build_image(rng, layer_sizes=(512 * 1024,))
    with start_drift_h3(tmp_path / "data", env=env) as server:
        with HttpClient(server.registry.url) as http:
            push_image(RegistryApi(http), "found/app", "v1", image)
        wait_announced(server)
        layout = tmp_path / "layout"
        command = [DRIFTCTL, "pull", "--http3", "found/app:v1", "--output", str(layout)]
        command += ["--pin", pin_of(server), "--discover", "--interface", "lo"]
        pulled = run_pull([*command, "--domain", domain])
        elsewhere = run_pull([*command, "--domain", "nobody.local", "--discover-timeout", "0.5"])

    assert pulled.returncode == 0, pulled
    assert f"at 127.0.0.1:{server.quic_port}" in pulled.stderr
    assert_layout_holds(layout, image, "v1")
    elsewhere.assert_failed_with(
        "no Drift registry answered over mDNS on interface lo within 0.5 s"
    )
