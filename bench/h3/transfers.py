"""One timed transfer each: an HTTP/3 pull or push (``bench.h3.client`` in a process of its own),
a whole ``driftctl pull --http3``, an HTTPS/1.1 push or pull. Each returns ``(bytes, seconds)``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from bench.blobs import Blob
from bench.registry_client import RegistryClient

__all__ = ["Transfer", "driftctl_pull", "h3_pull", "h3_push", "https_push"]

Transfer = tuple[int, float]
_CLIENT: Final = (sys.executable, "-m", "bench.h3.client")
_ROOT: Final = Path(__file__).resolve().parents[2]  # the repository: bench.* and tests.* import


def _client(command: str, port: int, ca: Path, datagram_size: int, *options: str) -> Transfer:
    argv = [*_CLIENT, command, "--port", str(port), "--ca", str(ca)]
    argv += ["--datagram-size", str(datagram_size), *options]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"bench.h3.client {command} failed: {done.stderr.strip()[-3000:]}")
    result = json.loads(done.stdout)
    return int(result["bytes"]), float(result["seconds"])


def h3_pull(
    port: int, ca: Path, datagram_size: int, path: str, streams: int, size: int
) -> Transfer:
    """GET ``path`` (a body of ``size`` bytes) on ``streams`` streams of one connection."""
    options = ("--path", path, "--streams", str(streams), "--size", str(size))
    return _client("pull", port, ca, datagram_size, *options)


def h3_push(port: int, ca: Path, datagram_size: int, repo: str, blob: Blob, mode: str) -> Transfer:
    options = (
        *("--repo", repo, "--file", str(blob.path), "--file-size", str(blob.file_size)),
        *("--tail", blob.tail.hex(), "--digest", blob.digest, "--mode", mode),
    )
    return _client("push", port, ca, datagram_size, *options)


def https_push(client: RegistryClient, blob: Blob, mode: str) -> Transfer:
    push = client.push_monolithic if mode == "monolithic" else client.push_chunked
    began = time.perf_counter()
    push(blob)
    seconds = time.perf_counter() - began
    if client.blob_size(blob.digest) != blob.size:
        raise RuntimeError(f"HTTPS push {mode}: the pushed blob has the wrong size")
    return blob.size, seconds


def _driftctl() -> list[str]:
    script = Path(sys.executable).with_name("driftctl")
    if script.exists():
        return [str(script)]
    found = shutil.which("driftctl")
    if found is None:
        raise RuntimeError("driftctl is not installed (pip install -e .)")
    return [found]


def driftctl_pull(
    reference: str, ca: Path, output: Path, size: int, manifest_digest: str
) -> Transfer:
    """``driftctl pull --http3 REFERENCE`` into a fresh layout, timed as a whole command."""
    argv = [*_driftctl(), "pull", "--http3", reference, "--output", str(output)]
    argv += ["--ca-file", str(ca)]
    env = {**os.environ, "DRIFT_LOG": "warning"}
    began = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=output.parent, env=env
    )
    seconds = time.perf_counter() - began
    shutil.rmtree(output, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"driftctl pull failed: {done.stderr.strip()[-2000:]}")
    if done.stdout.strip() != manifest_digest:
        raise RuntimeError(f"driftctl pull gave {done.stdout.strip()}, want {manifest_digest}")
    return size, seconds
