"""The servers of the S3 benchmark: one SeaweedFS, and each registry twice on its own prefix.

SeaweedFS is the test suite's (tests/support/seaweedfs.py) with volumes sized for gigabytes
instead of a test's megabytes. Each registry (Drift, and CNCF distribution with its S3 driver)
runs two processes on one key prefix of the bucket: one answering blob GETs itself
(*proxied*), one redirecting them to presigned SeaweedFS URLs (*redirect*). Pushes go to the
proxied one; both serve the same blobs, as two nodes of one deployment would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from tests.support.seaweedfs import SeaweedFS
from tests.support.servers import RunningRegistry, start_drift, start_reference

from bench.report import DRIFT
from bench.settings import Settings

__all__ = ["BenchSeaweedFS", "Mode", "S3Servers", "start_s3_servers"]

_VOLUME_MB: Final = 1024
_VOLUMES: Final = 64


class Mode(StrEnum):
    PROXIED = "proxied"
    REDIRECT = "redirect"


class BenchSeaweedFS(SeaweedFS):
    """SeaweedFS holding a benchmark's gigabytes: 1 GiB volumes, up to 64 of them."""

    def command(self) -> list[str]:
        sized = {
            "-master.volumeSizeLimitMB": f"-master.volumeSizeLimitMB={_VOLUME_MB}",
            "-volume.max": f"-volume.max={_VOLUMES}",
        }
        return [sized.get(flag.partition("=")[0], flag) for flag in super().command()]


@dataclass(frozen=True, slots=True)
class S3Servers:
    seaweedfs: SeaweedFS
    registries: dict[tuple[str, Mode], RunningRegistry]

    def registry(self, name: str, mode: Mode) -> RunningRegistry:
        return self.registries[(name, mode)]


def _start(
    settings: Settings, seaweedfs: SeaweedFS, name: str, mode: Mode, scratch: Path
) -> RunningRegistry:
    root = scratch / f"{name}-{mode}"
    log_path = scratch / f"{name}-{mode}.log"
    redirect = mode is Mode.REDIRECT
    if name == DRIFT:
        env = {
            **seaweedfs.drift_env(name),
            **settings.drift_env,
            "DRIFT_S3_REDIRECT": str(redirect).lower(),
        }
        return start_drift(root, workers=settings.workers, env=env, log_path=log_path)
    s3 = seaweedfs.settings(name, redirect=redirect)
    return start_reference(root, log_path=log_path, s3=s3)


@contextlib.contextmanager
def start_s3_servers(settings: Settings, scratch: Path) -> Iterator[S3Servers]:
    with contextlib.ExitStack() as stack:
        seaweedfs = stack.enter_context(BenchSeaweedFS(scratch / "seaweedfs").start())
        registries = {
            (name, mode): stack.enter_context(_start(settings, seaweedfs, name, mode, scratch))
            for name in settings.servers
            for mode in Mode
        }
        yield S3Servers(seaweedfs, registries)
