"""The reverse-proxy recipe (deploy/nginx/drift.conf) for real: Debian's nginx terminates TLS for
Drift on loopback; skopeo verifies the proxy's certificate against a test CA, pushes and pulls a
multi-layer image through it byte for byte, and upload URLs point back at the proxy."""

from __future__ import annotations

import http.client
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.checks import assert_copy_identical
from tests.support.images import build_image
from tests.support.layouts import read_oci_layout, write_oci_layout
from tests.support.nginx import RunningNginx, start_nginx
from tests.support.servers import RunningRegistry, free_port, start_drift
from tests.support.skopeo import Skopeo, SkopeoError
from tests.support.tls import LoopbackPki, make_pki

pytestmark = [pytest.mark.deploy, pytest.mark.clients]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Proxied:
    drift: RunningRegistry
    nginx: RunningNginx
    pki: LoopbackPki

    def https(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", self.nginx.port, context=self.pki.client_context(), timeout=30
        )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    workdir = tmp_path_factory.mktemp("nginx-proxy")
    pki = make_pki(workdir / "certs")
    with (
        start_drift(workdir / "data") as drift,
        start_nginx(workdir / "nginx", free_port(), drift.port, pki) as nginx,
    ):
        yield Proxied(drift, nginx, pki)
        assert nginx.process.poll() is None, f"nginx died:\n{nginx.error_log()}"


def test_skopeo_pushes_and_pulls_through_the_tls_proxy(
    proxied: Proxied, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    image = build_image(rng, layer_sizes=(64 * 1024, 2 * MIB, 6 * MIB))
    write_oci_layout(tmp_path / "src", {"v1": image.manifest}, image.blobs)
    remote = f"docker://{proxied.nginx.host_port}/library/proxied:v1"
    certs = str(proxied.pki.ca_dir)

    skopeo.run(
        "copy", "--preserve-digests", "--dest-cert-dir", certs, "--dest-no-creds",
        f"oci:{tmp_path / 'src'}:v1", remote,
    )  # fmt: skip
    raw = skopeo.run("inspect", "--raw", "--cert-dir", certs, "--no-creds", remote).stdout
    assert raw == image.manifest.data
    skopeo.run(
        "copy", "--src-cert-dir", certs, "--src-no-creds", remote, f"oci:{tmp_path / 'out'}:v1"
    )
    assert_copy_identical(read_oci_layout(tmp_path / "out"), "v1", image.manifest, image.blobs)

    # The proxy's certificate really is verified: without the test CA skopeo refuses it.
    with pytest.raises(SkopeoError, match="certificate"):
        skopeo.run("inspect", "--raw", "--no-creds", remote)


def test_upload_locations_point_at_the_proxy(proxied: Proxied) -> None:
    conn = proxied.https()
    try:
        conn.request("POST", "/v2/library/located/blobs/uploads/", headers={"Content-Length": "0"})
        started = conn.getresponse()
        started.read()
        assert started.status == 202, started.headers
        location = started.headers["Location"]
        assert location.startswith(
            f"https://{proxied.nginx.host_port}/v2/library/located/blobs/uploads/"
        ), location

        chunk = b"x" * (3 * MIB)  # above nginx's default body limit of 1 MiB
        conn.request(
            "PATCH",
            location,
            body=chunk,
            headers={"Content-Type": "application/octet-stream", "Content-Range": "0-3145727"},
        )
        appended = conn.getresponse()
        appended.read()
        assert appended.status == 202, appended.headers
        assert appended.headers["Range"] == f"0-{len(chunk) - 1}"
        assert appended.headers["Location"].startswith(f"https://{proxied.nginx.host_port}/")
    finally:
        conn.close()
