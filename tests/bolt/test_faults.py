"""Faults between ``driftctl pull --http3`` and ``drift serve``: content that does not match its
digest, a blob file that shrinks while it is served (Drift resets the stream mid-download), a
client killed mid-download. The client fails in one line and leaves no partial file in the
layout; the server stays healthy and serves the same image whole afterwards."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from drift.bolt.progress import megabytes
from tests.bolt.pulling import (
    assert_layout_holds,
    pull_command,
    push_image,
    random_image,
    run_pull,
    start_pull,
    wait_for_line,
)
from tests.support.images import Blob, Image
from tests.support.quic import H3Server
from tests.support.rawhttp import HttpClient
from tests.support.registry import RegistryApi, unique_repo

MIB = 1024 * 1024
BIG = 16 * MIB  # long enough to act on while it downloads


def stored(server: H3Server, blob: Blob) -> Path:
    """The blob's data file in Drift's storage (distribution's v2 layout)."""
    hex_digest = blob.digest.removeprefix("sha256:")
    return (
        server.registry.root
        / "docker/registry/v2/blobs/sha256"
        / hex_digest[:2]
        / hex_digest
        / "data"
    )


def pushed(api: RegistryApi, rng: random.Random, *layer_sizes: int) -> tuple[str, Image]:
    repo = unique_repo("bolt")
    image = random_image(rng, layer_sizes)
    push_image(api, repo, "v1", image)
    return repo, image


def assert_pulls_whole(server: H3Server, repo: str, image: Image, layout: Path) -> None:
    """The server is healthy and serves the image whole (into the layout of the failed pull)."""
    assert server.registry.process.poll() is None, server.registry.log_tail()
    with HttpClient(server.registry.url) as http:
        assert http.get("/healthz").status == 200
    pulled = run_pull(pull_command(server, f"{repo}:v1", layout))
    assert pulled.returncode == 0, pulled
    assert_layout_holds(layout, image, "v1")


def assert_nothing_half_written(layout: Path, blob: Blob) -> None:
    assert not list(layout.rglob(blob.digest.removeprefix("sha256:"))), "the bad blob was kept"
    assert not list((layout / ".drift-pull").glob("*")), "a partial file was left"
    assert not (layout / "index.json").exists(), "the image was listed"


def test_content_that_does_not_match_its_digest_is_refused(
    drift_h3: H3Server, api: RegistryApi, rng: random.Random, tmp_path: Path
) -> None:
    repo, image = pushed(api, rng, MIB, 2 * MIB)
    victim = image.layers[1]
    data_file = stored(drift_h3, victim)
    data_file.write_bytes(bytes(byte ^ 0x5A for byte in victim.data))  # same size, other bytes
    layout = tmp_path / "layout"
    try:
        pulled = run_pull(pull_command(drift_h3, f"{repo}:v1", layout))
    finally:
        data_file.write_bytes(victim.data)

    pulled.assert_failed_with(f"digest mismatch for blob {victim.digest}")
    assert_nothing_half_written(layout, victim)
    assert_pulls_whole(drift_h3, repo, image, layout)


def test_a_stream_reset_mid_download_fails_cleanly_and_the_server_recovers(
    drift_h3: H3Server, api: RegistryApi, rng: random.Random, tmp_path: Path
) -> None:
    repo, image = pushed(api, rng, BIG, 64 * 1024)
    big = max(image.layers, key=lambda blob: len(blob.data))
    data_file = stored(drift_h3, big)
    layout = tmp_path / "layout"
    pulling = start_pull(pull_command(drift_h3, f"{repo}:v1", layout, "--parallel", "1"))
    assert pulling.stderr is not None
    try:
        wait_for_line(pulling.stderr, f"downloading {megabytes(len(big.data))}")
        # Drift stats the file, then reads it in chunks: it finds the end early and resets.
        with data_file.open("r+b") as shrinking:
            shrinking.truncate(len(big.data) // 2)
        status = pulling.wait(timeout=30)
        stderr = pulling.stderr.read()
    finally:
        pulling.kill()
        pulling.wait()
        data_file.write_bytes(big.data)

    assert status == 1, stderr
    assert "stream reset by the registry" in stderr, stderr
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("driftctl pull: "), stderr
    assert big.digest in error, stderr
    # The resumed GET finds the blob shorter: by its size (a 206 for fewer bytes) or, when the
    # reset came exactly at the new end, by a 416 for a range that starts there.
    assert "registry holds" in error or "416 RANGE_INVALID: range starts at" in error, stderr
    assert_nothing_half_written(layout, big)
    assert_pulls_whole(drift_h3, repo, image, layout)


def test_a_client_killed_mid_download_leaves_the_server_healthy(
    drift_h3: H3Server, api: RegistryApi, rng: random.Random, tmp_path: Path
) -> None:
    repo, image = pushed(api, rng, BIG // 2)
    layout = tmp_path / "layout"
    pulling = start_pull(pull_command(drift_h3, f"{repo}:v1", layout))
    assert pulling.stderr is not None
    try:
        wait_for_line(pulling.stderr, f"downloading {megabytes(BIG // 2)}")
        time.sleep(0.1)
        pulling.send_signal(signal.SIGKILL)
    finally:
        pulling.wait()

    assert not (layout / "index.json").exists()
    assert_pulls_whole(drift_h3, repo, image, layout)
