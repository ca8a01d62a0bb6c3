"""``driftctl pull --http3`` end to end against ``drift serve``: images pushed over HTTP/1.1 come
back byte for byte over HTTP/3 into an OCI layout skopeo reads; an index resolves to this host's
platform; every failure is one line and a non-zero exit."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

from drift.bolt.platforms import host_platform
from tests.bolt.pulling import (
    assert_layout_holds,
    layout_index,
    pin_of,
    pull_command,
    push_image,
    push_index,
    run_pull,
)
from tests.support.images import DOCKER, Platform, build_image, build_index
from tests.support.quic import H3Server
from tests.support.registry import RegistryApi, unique_repo
from tests.support.skopeo import Skopeo

MIB = 1024 * 1024
OTHER_ARCHITECTURES = ("s390x", "ppc64le", "riscv64")


def test_pull_writes_every_blob_byte_for_byte(
    drift_h3: H3Server, api: RegistryApi, rng: random.Random, tmp_path: Path, skopeo: Skopeo
) -> None:
    repo = unique_repo("bolt")
    image = build_image(rng, layer_sizes=(64 * 1024, MIB, 3 * MIB, 6 * MIB))
    push_image(api, repo, "v1", image)
    layout = tmp_path / "layout"

    pulled = run_pull(pull_command(drift_h3, f"{repo}:v1", layout, "--parallel", "8"))

    assert pulled.returncode == 0, pulled
    assert pulled.stdout.strip() == image.manifest.digest
    assert_layout_holds(layout, image, "v1")
    assert "pulled 5 blobs" in pulled.stderr
    inspected = json.loads(skopeo.run("inspect", f"oci:{layout}:v1").stdout)
    assert inspected["Digest"] == image.manifest.digest
    assert inspected["Layers"] == [layer.digest for layer in image.layers]
    assert json.loads(skopeo.run("inspect", "--config", f"oci:{layout}:v1").stdout)["os"] == "linux"


def test_a_second_pull_keeps_the_first_image_and_reuses_its_blobs(
    drift_h3: H3Server, api: RegistryApi, rng: random.Random, tmp_path: Path
) -> None:
    repo = unique_repo("bolt")
    first = build_image(rng, media_types=DOCKER, layer_sizes=(MIB, 2 * MIB))
    push_image(api, repo, "one", first)
    push_image(api, repo, "two", first)
    layout = tmp_path / "layout"
    assert (
        run_pull(pull_command(drift_h3, f"{repo}:one", layout, "--parallel", "1")).returncode == 0
    )

    by_digest = run_pull(pull_command(drift_h3, f"{repo}@{first.manifest.digest}", layout))
    again = run_pull(pull_command(drift_h3, f"{repo}:two", layout))

    assert by_digest.returncode == 0, by_digest
    assert again.returncode == 0, again
    assert again.stderr.count("already present") == 3, again.stderr
    assert "0.0 MB transferred" in again.stderr
    assert_layout_holds(layout, first, "one")
    assert_layout_holds(layout, first, "two")
    assert_layout_holds(layout, first, None)


def test_an_index_resolves_to_this_host_platform(
    drift_h3: H3Server, api: RegistryApi, rng: random.Random, tmp_path: Path, skopeo: Skopeo
) -> None:
    host = host_platform().architecture
    architectures = [*OTHER_ARCHITECTURES[:2], host, OTHER_ARCHITECTURES[2]]
    images = tuple(
        build_image(rng, layer_sizes=(128 * 1024,), platform=Platform("linux", architecture))
        for architecture in architectures
    )
    repo = unique_repo("bolt")
    push_index(api, repo, "multi", build_index(images))
    layout = tmp_path / "layout"

    pulled = run_pull(pull_command(drift_h3, f"{repo}:multi", layout))

    assert pulled.returncode == 0, pulled
    mine = images[2]
    assert_layout_holds(layout, mine, "multi")
    assert layout_index(layout)["manifests"][0]["platform"] == {"architecture": host, "os": "linux"}
    for other in (*images[:2], images[3]):
        assert not (layout / "blobs" / "sha256" / other.layers[0].digest[7:]).exists()
    assert json.loads(skopeo.run("inspect", f"oci:{layout}:multi").stdout)["Architecture"] == host


def test_an_index_without_this_platform_is_a_clear_error(
    drift_h3: H3Server, api: RegistryApi, rng: random.Random, tmp_path: Path
) -> None:
    images = tuple(
        build_image(rng, layer_sizes=(1024,), platform=Platform("linux", architecture))
        for architecture in OTHER_ARCHITECTURES
        if architecture != host_platform().architecture
    )
    repo = unique_repo("bolt")
    push_index(api, repo, "foreign", build_index(images))

    pulled = run_pull(pull_command(drift_h3, f"{repo}:foreign", tmp_path / "layout"))

    pulled.assert_failed_with(
        f"no manifest for this platform (linux/{host_platform().architecture}"
    )
    assert not (tmp_path / "layout").exists()


def test_unknown_images_and_untrusted_registries_are_one_line_errors(
    drift_h3: H3Server, api: RegistryApi, tmp_path: Path
) -> None:
    repo = unique_repo("bolt")
    api.push_image(repo, "v1")
    layout = tmp_path / "layout"

    run_pull(pull_command(drift_h3, f"{repo}/nothing:v1", layout)).assert_failed_with(
        "404 NAME_UNKNOWN"
    )
    run_pull(pull_command(drift_h3, f"{repo}:v2", layout)).assert_failed_with(
        "404 MANIFEST_UNKNOWN"
    )
    wrong_pin = pull_command(drift_h3, f"{repo}:v1", layout)
    wrong_pin[wrong_pin.index(pin_of(drift_h3))] = "sha256/" + "A" * 43 + "="
    run_pull(wrong_pin).assert_failed_with("does not match --pin", pin_of(drift_h3))
    where = f"127.0.0.1:{drift_h3.quic_port}/{repo}:v1"
    system_trust = ["pull", "--http3", where, "--output", str(layout)]
    run_pull([wrong_pin[0], *system_trust]).assert_failed_with("QUIC handshake failed")
    assert not layout.exists(), "a failed pull created the layout"
    ca_file = run_pull([wrong_pin[0], *system_trust, "--ca-file", str(drift_h3.certificate)])
    assert ca_file.returncode == 0, ca_file
    insecure = run_pull([wrong_pin[0], *system_trust, "--insecure"])
    assert insecure.returncode == 0, insecure


def test_nothing_listening_is_unreachable(tmp_path: Path, drift_h3: H3Server) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = pull_command(drift_h3, "x/y:z", tmp_path / "layout")
    command[3] = f"127.0.0.1:{port}/x/y:z"
    run_pull(command).assert_failed_with(
        f"registry 127.0.0.1:{port}: unreachable over HTTP/3 (UDP): Connection refused"
    )


def test_sha512_blobs_are_verified_and_stored_by_their_algorithm(
    drift_h3: H3Server, api: RegistryApi, tmp_path: Path
) -> None:
    repo = unique_repo("bolt")
    image = api.push_image(repo, "v1", algorithm="sha512", layers=2, layer_size=300 * 1024)
    layout = tmp_path / "layout"

    pulled = run_pull(pull_command(drift_h3, f"{repo}:v1", layout))

    assert pulled.returncode == 0, pulled
    assert pulled.stdout.strip() == image.digest
    for digest, data in image.blobs.items():
        algorithm, hex_digest = digest.split(":")
        assert algorithm == "sha512"
        assert (layout / "blobs" / algorithm / hex_digest).read_bytes() == data
