"""Pushing the content manifests refer to, for the manifest, listing and referrers tests."""

from __future__ import annotations

from typing import Any

from tests.support.oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
    index_manifest,
    platform,
    random_bytes,
)
from tests.support.registry import RegistryApi

__all__ = ["ALL_MANIFEST_TYPES", "minimal_manifest", "push_manifest_of_type", "push_parts"]

ALL_MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
_CHILD_TYPE = {OCI_INDEX: OCI_MANIFEST, DOCKER_LIST: DOCKER_MANIFEST}
_PART_TYPES = {
    OCI_MANIFEST: (OCI_CONFIG, OCI_LAYER),
    DOCKER_MANIFEST: (DOCKER_CONFIG, DOCKER_LAYER),
}


def push_parts(
    api: RegistryApi,
    repo: str,
    *,
    seed: str = "",
    algorithm: str = "sha256",
    config_type: str = OCI_CONFIG,
    layer_type: str = OCI_LAYER,
    layers: int = 2,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Push a config and ``layers`` layers; return their descriptors."""
    config = b'{"architecture":"amd64","os":"linux","seed":"%s"}' % (repo + seed).encode()
    api.push_blob(repo, config, algorithm)
    layer_descriptors = []
    for index in range(layers):
        data = random_bytes(1024 + index, f"{repo}{seed}/{index}")
        api.push_blob(repo, data, algorithm)
        layer_descriptors.append(descriptor(layer_type, data, algorithm=algorithm))
    return descriptor(config_type, config, algorithm=algorithm), layer_descriptors


def push_manifest_of_type(api: RegistryApi, repo: str, media_type: str, *, seed: str = "") -> bytes:
    """Everything a manifest of ``media_type`` references, pushed; returns the manifest."""
    if media_type in _PART_TYPES:
        config_type, layer_type = _PART_TYPES[media_type]
        config, layers = push_parts(
            api, repo, seed=seed, config_type=config_type, layer_type=layer_type
        )
        return image_manifest(config, layers, media_type=media_type)
    child_type = _CHILD_TYPE[media_type]
    children = []
    for architecture in ("amd64", "arm64"):
        child = push_manifest_of_type(api, repo, child_type, seed=f"{seed}-{architecture}")
        api.push_manifest(repo, digest_of(child), child, child_type)
        children.append(descriptor(child_type, child, platform=platform(architecture)))
    return index_manifest(children, media_type=media_type)


def minimal_manifest(api: RegistryApi, repo: str) -> bytes:
    """The smallest valid image manifest: an empty JSON config and no layers."""
    api.push_blob(repo, b"{}")
    config = descriptor(OCI_CONFIG, b"{}")
    return image_manifest(config, [])
