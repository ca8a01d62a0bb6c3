"""What the pull tests share: pushing images over HTTP/1.1, running ``driftctl pull --http3`` as
a real process, and reading the OCI layout it wrote."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from tests.support.images import OCI, Blob, Image, ImageIndex, Platform
from tests.support.quic import H3Server, spki_pin_of
from tests.support.registry import RegistryApi

__all__ = [
    "DRIFTCTL",
    "PullRun",
    "assert_layout_holds",
    "layout_index",
    "pin_of",
    "pull_command",
    "push_image",
    "push_index",
    "random_image",
    "run_pull",
    "start_pull",
    "wait_for_line",
]

DRIFTCTL: Final = str(Path(sys.executable).with_name("driftctl"))
PULL_TIMEOUT: Final = 60


def random_image(rng: random.Random, layer_sizes: tuple[int, ...]) -> Image:
    """An image whose layers are plain random bytes: quick to make at any size (``build_image``
    gzips real tar layers, which takes a second for 16 MiB)."""
    layers = tuple(Blob(OCI.layer, rng.randbytes(size)) for size in layer_sizes)
    config = Blob(OCI.config, json.dumps({"architecture": "amd64", "os": "linux"}).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI.manifest,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return Image(Blob(OCI.manifest, json.dumps(manifest).encode()), config, layers, Platform())


def push_image(api: RegistryApi, repo: str, tag: str, image: Image) -> None:
    for blob in image.blobs:
        api.push_blob(repo, blob.data)
    api.push_manifest(repo, tag, image.manifest.data, image.manifest.media_type)


def push_index(api: RegistryApi, repo: str, tag: str, index: ImageIndex) -> None:
    for image in index.images:
        push_image(api, repo, image.manifest.digest, image)
    api.push_manifest(repo, tag, index.index.data, index.index.media_type)


def pin_of(server: H3Server) -> str:
    return f"sha256/{spki_pin_of(server.certificate)}"


def pull_command(server: H3Server, image: str, output: Path, *extra: str) -> list[str]:
    """``driftctl pull --http3`` of ``image`` (a REPO:TAG on ``server``) trusting its pin."""
    where = f"127.0.0.1:{server.quic_port}/{image}"
    return [
        DRIFTCTL,
        "pull",
        "--http3",
        where,
        "--output",
        str(output),
        "--pin",
        pin_of(server),
        *extra,
    ]


@dataclass(frozen=True)
class PullRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """The last stderr line (the one-line reason of a failure)."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""

    def assert_failed_with(self, *fragments: str) -> None:
        assert self.returncode == 1, f"expected exit status 1:\n{self}"
        assert self.error.startswith("driftctl pull: "), str(self)
        for fragment in fragments:
            assert fragment in self.error, f"{fragment!r} not in the error line:\n{self}"
        assert "Traceback" not in self.stderr, str(self)


def run_pull(command: Sequence[str], *, stdin: str | None = None) -> PullRun:
    result = subprocess.run(
        list(command),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=PULL_TIMEOUT,
        check=False,
        env=_environment(),
        cwd=tempfile.gettempdir(),
    )
    return PullRun(result.returncode, result.stdout, result.stderr)


def start_pull(command: Sequence[str]) -> subprocess.Popen[str]:
    """The pull as a running process, its stderr (the plain progress lines) piped."""
    return subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
        cwd=tempfile.gettempdir(),
    )


def wait_for_line(stream: IO[str], fragment: str, timeout: float = 20.0) -> list[str]:
    """Read lines until one contains ``fragment``; all lines read (fails at EOF or timeout)."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if fragment in line:
            return lines
    raise AssertionError(f"no line with {fragment!r}; got:\n{''.join(lines)}")


def _environment() -> dict[str, str]:
    # No DRIFT_CONFIG, and a working directory without drift.toml: the client's defaults.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_")}
    return {**environment, "DRIFT_LOG": "warning"}


def layout_index(layout: Path) -> dict[str, Any]:
    index: dict[str, Any] = json.loads((layout / "index.json").read_bytes())
    return index


def assert_layout_holds(layout: Path, image: Image, ref_name: str | None) -> None:
    """The layout lists ``image`` under ``ref_name`` and holds its manifest and every blob
    byte for byte, and nothing half-written."""
    entries = [
        entry
        for entry in layout_index(layout)["manifests"]
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref_name
    ]
    assert len(entries) == 1, layout_index(layout)
    assert entries[0]["digest"] == image.manifest.digest
    assert entries[0]["size"] == len(image.manifest.data)
    for blob in (image.manifest, *image.blobs):
        algorithm, hex_digest = blob.digest.split(":")
        path = layout / "blobs" / algorithm / hex_digest
        assert path.is_file(), f"{blob.digest} missing from the layout"
        assert path.read_bytes() == blob.data, f"{blob.digest} differs"
    assert not (layout / ".drift-pull").exists(), "partial files left behind"
