"""oras-py pushes and pulls a multi-file artifact, monolithic and chunked, byte-identical."""

from __future__ import annotations

import math
import random
from pathlib import Path

import oras.provider  # type: ignore[import-untyped]
import pytest

from tests.support.servers import RunningRegistry
from tests.support.wiretap import Wiretap

pytestmark = pytest.mark.clients

CHUNK_SIZE = 1024 * 1024


def _write_files(directory: Path, rng: random.Random) -> dict[str, bytes]:
    files = {
        "README.txt": f"an artifact pushed by oras-py, {rng.getrandbits(64):x}\n".encode(),
        "table.csv": "\n".join(f"{i},{rng.random()}" for i in range(2000)).encode(),
        "model.bin": rng.randbytes(3 * CHUNK_SIZE + 123),
    }
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return files


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_push_and_pull_artifact_files(
    registry: RunningRegistry, rng: random.Random, tmp_path: Path, chunked: bool
) -> None:
    files = _write_files(tmp_path / "in", rng)
    with Wiretap(registry.port) as tap:
        client = oras.provider.Registry(hostname=tap.host_port, insecure=True, tls_verify=False)
        target = f"{tap.host_port}/artifacts/files:{'chunked' if chunked else 'monolithic'}"
        client.push(
            target=target,
            files=[str(tmp_path / "in" / name) for name in files],
            disable_path_validation=True,
            do_chunked=chunked,
            chunk_size=CHUNK_SIZE,
            manifest_annotations={"org.example.purpose": "drift functional test"},
            quiet=True,
        )
        pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
        manifest = client.get_manifest(target)
        requests = tap.requests()

    assert {Path(path).name: Path(path).read_bytes() for path in pulled} == files
    assert manifest["annotations"] == {"org.example.purpose": "drift functional test"}
    patches = [r for r in requests if r.method == "PATCH"]
    expected_patches = sum(math.ceil(len(data) / CHUNK_SIZE) for data in files.values())
    assert len(patches) == (expected_patches if chunked else 0)
