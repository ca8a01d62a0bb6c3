"""Drift and the reference registry (CNCF distribution 2.8 with its S3 driver) on one bucket
prefix at the same time: what skopeo pushes through one is pulled through the other, byte for
byte, tags and manifests included. The reference redirects blob GETs to presigned SeaweedFS
URLs (its default), so skopeo follows those too."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.http_client import http_request
from tests.support.interop import assert_serves, push, sample
from tests.support.seaweedfs import SeaweedFS, new_prefix
from tests.support.servers import RunningRegistry, start_drift, start_reference
from tests.support.skopeo import Skopeo

pytestmark = pytest.mark.clients

MIB = 1 << 20


@dataclass(frozen=True)
class Pair:
    drift: RunningRegistry
    reference: RunningRegistry
    seaweedfs: SeaweedFS
    prefix: str

    def server(self, name: str) -> RunningRegistry:
        return {"drift": self.drift, "reference": self.reference}[name]


@pytest.fixture(scope="module")
def pair(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    prefix = new_prefix()
    tmp = tmp_path_factory.mktemp("s3-compat")
    reference_s3 = seaweedfs.settings(prefix, redirect=True)
    with (
        start_reference(tmp / "reference", s3=reference_s3) as reference,
        start_drift(tmp / "drift", env=seaweedfs.drift_env(prefix)) as drift,
    ):
        yield Pair(drift, reference, seaweedfs, prefix)


@pytest.mark.parametrize(
    ("writer", "reader"),
    [("reference", "drift"), ("drift", "reference")],
    ids=["reference-to-drift", "drift-to-reference"],
)
def test_one_bucket_served_by_both_registries(
    pair: Pair, writer: str, reader: str, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    content = sample(rng, prefix=writer, large_layer=11 * MIB + 321)  # several S3 parts
    push(skopeo, content, pair.server(writer).host_port, tmp_path / "src")

    assert_serves(skopeo, content, pair.server(reader), tmp_path / "out")

    catalog = http_request(f"{pair.server(reader).url}/v2/_catalog?n=100").json()
    assert {pushed.repository for pushed in content} <= set(catalog["repositories"])
    stored = pair.seaweedfs.keys(f"{pair.prefix}/")
    assert not [key for key in stored if "!segments" in key], "upload segments left behind"
    assert not [key for key in stored if "/_uploads/" in key], "upload sessions left behind"
