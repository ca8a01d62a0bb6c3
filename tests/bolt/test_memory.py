"""A layer far larger than the client's buffers streams through bounded memory: the pull's peak
resident size stays well below the layer's size (a client that held the layer would exceed it).
The registry sends 16 KiB datagrams (``DRIFT_QUIC_MAX_DATAGRAM_SIZE``) to keep this quick."""

from __future__ import annotations

import random
import time
from pathlib import Path

from drift.bolt.progress import megabytes
from tests.bolt.pulling import (
    assert_layout_holds,
    pull_command,
    push_image,
    random_image,
    start_pull,
)
from tests.support.quic import start_drift_h3
from tests.support.rawhttp import HttpClient
from tests.support.registry import RegistryApi

MIB = 1024 * 1024
LAYER = 96 * MIB
# An interpreter with aioquic and cryptography loaded is about 60 MiB; the window and the
# pieces in flight add a few MiB. Holding the layer would add its 96 MiB.
PEAK_LIMIT = 120 * MIB


def test_a_large_layer_streams_through_bounded_memory(rng: random.Random, tmp_path: Path) -> None:
    image = random_image(rng, (LAYER,))
    env = {"DRIFT_QUIC_MAX_DATAGRAM_SIZE": "16384"}
    with start_drift_h3(tmp_path / "data", env=env) as server:
        with HttpClient(server.registry.url) as http:
            push_image(RegistryApi(http), "big/layer", "v1", image)
        layout = tmp_path / "layout"
        pulling = start_pull(pull_command(server, "big/layer:v1", layout))
        peak = 0
        while pulling.poll() is None:
            peak = max(peak, peak_rss(pulling.pid))
            time.sleep(0.02)
        assert pulling.stderr is not None
        stderr = pulling.stderr.read()

    assert pulling.returncode == 0, stderr
    assert f"downloading {megabytes(LAYER)}" in stderr
    assert 0 < peak < PEAK_LIMIT, f"peak RSS {peak / MIB:.0f} MiB"
    assert_layout_holds(layout, image, "v1")


def peak_rss(pid: int) -> int:
    """The process's peak resident size so far (``VmHWM``; 0 once it is gone). Unlike
    ``ru_maxrss``, it is the program's own: not the pages of the test process it was forked
    from before ``exec``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
