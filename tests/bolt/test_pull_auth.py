"""``driftctl pull --http3`` against a Drift that wants credentials: Basic (``DRIFT_AUTH=basic``)
and the Docker token flow (``DRIFT_AUTH=token``) with Drift's own realm, which is the registry
itself and is therefore asked over the same HTTP/3 connection, or with a realm elsewhere (here
Drift's HTTP/1.1 port, ``DRIFT_TOKEN_REALM``), asked with aiohttp. Missing or wrong credentials
are one-line errors."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.bolt.pulling import assert_layout_holds, pull_command, push_image, run_pull
from tests.support.auth import AuthorizedClient, auth_env, basic
from tests.support.images import Image, build_image
from tests.support.quic import H3Server, free_udp_port
from tests.support.registry import RegistryApi
from tests.support.servers import free_port, start_drift

PASSWORD: Final = "alice-Bolt-5c1e"
REPO: Final = "secured/app"


@dataclass(frozen=True)
class Secured:
    mode: str
    server: H3Server
    image: Image


@pytest.fixture(scope="module", params=["basic", "token", "token-realm-h1"])
def secured(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Secured]:
    mode = str(request.param)
    port, quic_port = free_port(), free_udp_port()
    env = {
        **auth_env(mode.partition("-")[0], {"alice": PASSWORD}, admins="user:alice", policies=[]),
        "DRIFT_LOG": "info",
        "DRIFT_AUTH_LOGIN_FAILURES": "1000",
        "DRIFT_QUIC_ENABLED": "true",
        "DRIFT_QUIC_ADDR": f"127.0.0.1:{quic_port}",
    }
    if mode == "token-realm-h1":
        env["DRIFT_TOKEN_REALM"] = f"http://127.0.0.1:{port}/auth/token"
    image = build_image(random.Random(mode), layer_sizes=(256 * 1024, 1024 * 1024))
    root = tmp_path_factory.mktemp(mode) / "data"
    with H3Server(start_drift(root, port=port, env=env), quic_port) as server:
        with AuthorizedClient(server.registry.url, basic("alice", PASSWORD)) as http:
            push_image(RegistryApi(http), REPO, "v1", image)
        yield Secured(mode, server, image)


def requests(server: H3Server, path: str, transport: str = "h3") -> list[dict[str, object]]:
    records = [
        json.loads(line)
        for line in server.registry.log_path.read_text().splitlines()
        if '"drift.access"' in line
    ]
    return [r for r in records if r["path"] == path and r["transport"] == transport]


def test_the_right_credentials_pull_the_image(secured: Secured, tmp_path: Path) -> None:
    command = pull_command(secured.server, f"{REPO}:v1", tmp_path / "layout")
    pulled = run_pull([*command, "--username", "alice", "--password-stdin"], stdin=PASSWORD + "\n")

    assert pulled.returncode == 0, pulled
    assert_layout_holds(tmp_path / "layout", secured.image, "v1")
    realm_transport = "h1" if secured.mode == "token-realm-h1" else "h3"
    tokens = requests(secured.server, "/auth/token", realm_transport)
    assert [record["status"] for record in tokens] == ([] if secured.mode == "basic" else [200])
    manifests = requests(secured.server, f"/v2/{REPO}/manifests/v1")
    assert [(record["status"], record["user"]) for record in manifests][-2:] == [
        (401, None),
        (200, "alice"),
    ]


def test_no_credentials_is_a_clear_refusal(secured: Secured, tmp_path: Path) -> None:
    pulled = run_pull(pull_command(secured.server, f"{REPO}:v1", tmp_path / "layout"))

    pulled.assert_failed_with("401 UNAUTHORIZED")
    if secured.mode == "basic":
        assert "--username and --password-stdin" in pulled.error


def test_a_wrong_password_is_a_clear_refusal(secured: Secured, tmp_path: Path) -> None:
    command = pull_command(secured.server, f"{REPO}:v1", tmp_path / "layout")
    pulled = run_pull([*command, "--username", "alice", "--password-stdin"], stdin="wrong\n")

    if secured.mode == "basic":
        pulled.assert_failed_with("GET manifest secured/app:v1: 401 UNAUTHORIZED")
    else:
        pulled.assert_failed_with("/auth/token refused: 401")
    assert PASSWORD not in pulled.stderr
