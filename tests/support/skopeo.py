"""Driving the skopeo command line against plain-HTTP registries on loopback."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.tools import require_tool

__all__ = ["Skopeo", "SkopeoError"]

TIMEOUT = 180
# No trust policy, no stored credentials, plain HTTP: the registries under test run with
# DRIFT_AUTH=none on 127.0.0.1 only.
COPY_FLAGS = (
    "--preserve-digests",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    "--src-no-creds",
    "--dest-no-creds",
)
REGISTRY_FLAGS = ("--tls-verify=false", "--no-creds")


class SkopeoError(AssertionError):
    pass


@dataclass(frozen=True, slots=True)
class Skopeo:
    binary: str
    tmpdir: Path

    @classmethod
    def locate(cls, tmpdir: Path) -> Skopeo:
        tmpdir.mkdir(parents=True, exist_ok=True)
        return cls(require_tool("skopeo"), tmpdir)

    def copy(self, source: str, destination: str, *, all_images: bool = False) -> None:
        self.run("copy", *COPY_FLAGS, *(["--all"] if all_images else []), source, destination)

    def inspect_raw(self, image: str) -> bytes:
        return self.run("inspect", "--raw", *REGISTRY_FLAGS, image).stdout

    def list_tags(self, repository: str) -> list[str]:
        listing = json.loads(self.run("list-tags", *REGISTRY_FLAGS, repository).stdout)
        return sorted(listing["Tags"] or [])

    def delete(self, image: str) -> None:
        self.run("delete", *REGISTRY_FLAGS, image)

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = [self.binary, "--insecure-policy", "--tmpdir", str(self.tmpdir), *args]
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        if result.returncode != 0:
            raise SkopeoError(
                f"{' '.join(command)} exited with {result.returncode}:\n"
                f"{result.stderr.decode(errors='replace')}"
            )
        return result
