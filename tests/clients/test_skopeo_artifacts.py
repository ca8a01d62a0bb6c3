"""skopeo copies OCI 1.1 artifacts that refer to an image; the referrers API lists them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.checks import assert_copy_identical
from tests.support.http_client import http_request
from tests.support.images import OCI, OCI_INDEX, Image, build_artifact, build_image
from tests.support.layouts import read_oci_layout, write_oci_layout
from tests.support.servers import RunningRegistry, start_drift, start_reference
from tests.support.skopeo import Skopeo

pytestmark = pytest.mark.clients

SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIGNATURE_CONFIG_TYPE = "application/vnd.example.signature.config.v1+json"


def _image_and_artifacts(rng: random.Random) -> tuple[Image, Image, Image]:
    """An image, an SBOM typed by `artifactType`, and a signature typed by its config only."""
    subject = build_image(rng, layer_sizes=(16 * 1024,))
    sbom = build_artifact(
        subject.manifest,
        {"sbom.spdx.json": b'{"spdxVersion": "SPDX-2.3"}', "extra.bin": rng.randbytes(200_000)},
        artifact_type=SBOM_TYPE,
        annotations={"org.opencontainers.image.created": "2024-01-02T03:04:05Z"},
    )
    signature = build_artifact(
        subject.manifest,
        {"signature.sig": rng.randbytes(512)},
        artifact_type=None,
        config_media_type=SIGNATURE_CONFIG_TYPE,
    )
    return subject, sbom, signature


def _push(skopeo: Skopeo, layout: Path, host_port: str, images: dict[str, Image]) -> str:
    write_oci_layout(
        layout,
        {ref: image.manifest for ref, image in images.items()},
        [blob for image in images.values() for blob in image.blobs],
    )
    remote = f"docker://{host_port}/app/with-artifacts"
    for ref in images:
        skopeo.copy(f"oci:{layout}:{ref}", f"{remote}:{ref}")
    return remote


def test_artifact_with_subject_round_trip(
    registry: RunningRegistry, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    subject, sbom, signature = _image_and_artifacts(rng)
    artifacts = {"sbom": sbom, "signature": signature}
    remote = _push(skopeo, tmp_path / "src", registry.host_port, {"v1": subject, **artifacts})

    for ref, artifact in artifacts.items():
        assert skopeo.inspect_raw(f"{remote}:{ref}") == artifact.manifest.data
        skopeo.copy(f"{remote}:{ref}", f"oci:{tmp_path / ref}:{ref}")
        copied = read_oci_layout(tmp_path / ref)
        assert_copy_identical(copied, ref, artifact.manifest, artifact.blobs)


def test_referrers_list_artifacts_pushed_by_skopeo(
    drift: RunningRegistry, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    subject, sbom, signature = _image_and_artifacts(rng)
    _push(
        skopeo,
        tmp_path / "src",
        drift.host_port,
        {"v1": subject, "sbom": sbom, "signature": signature},
    )
    _assert_referrers_listed(drift, subject, sbom, signature)


def test_referrers_of_artifacts_the_reference_registry_stored(
    skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    """Distribution 2.8 has no referrers API; Drift derives it from the same data directory."""
    subject, sbom, signature = _image_and_artifacts(rng)
    root = tmp_path / "data"
    with start_reference(root) as reference:
        _push(
            skopeo,
            tmp_path / "src",
            reference.host_port,
            {"v1": subject, "sbom": sbom, "signature": signature},
        )
    with start_drift(root) as drift:
        _assert_referrers_listed(drift, subject, sbom, signature)


def _assert_referrers_listed(
    drift: RunningRegistry, subject: Image, sbom: Image, signature: Image
) -> None:
    response = http_request(
        f"{drift.url}/v2/app/with-artifacts/referrers/{subject.manifest.digest}"
    )

    assert response.status == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    listing = response.json()
    assert listing["schemaVersion"] == 2
    assert listing["mediaType"] == OCI_INDEX
    listed = {
        entry["digest"]: (
            entry["mediaType"],
            entry["size"],
            entry.get("artifactType"),
            entry.get("annotations") or {},
        )
        for entry in listing["manifests"]
    }
    assert listed == {
        sbom.manifest.digest: (
            OCI.manifest,
            len(sbom.manifest.data),
            SBOM_TYPE,
            {"org.opencontainers.image.created": "2024-01-02T03:04:05Z"},
        ),
        # no artifactType in the manifest: the config media type stands in for it
        signature.manifest.digest: (
            OCI.manifest,
            len(signature.manifest.data),
            SIGNATURE_CONFIG_TYPE,
            {},
        ),
    }
