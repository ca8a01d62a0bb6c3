"""The registry API calls of a pull: manifests and blobs (distribution-spec, "Pull").

``manifest`` asks for every manifest and index type the client understands (OCI image-spec 1.1
and Docker's schema 2), reads the manifest (at most ``MAX_MANIFEST_BYTES``, the limit Drift and
distribution enforce on push), verifies its digest (against the digest it was asked by, else
against ``Docker-Content-Digest``) and its size against the descriptor that named it, and
validates it with the parser the registry itself uses on push (``drift.oci.manifest``).
``open_blob`` starts a blob download, from an offset when resuming (RFC 9110 ``Range``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from drift.bolt.errors import PullError, RegistryStatusError
from drift.bolt.h3 import H3Response
from drift.bolt.platforms import Platform, platform_of, select_manifest
from drift.bolt.session import MAX_ERROR_BODY, RegistrySession, describe_error, read_all
from drift.oci.digest import Digest, parse_digest
from drift.oci.errors import RegistryError
from drift.oci.manifest import MAX_MANIFEST_BYTES, Descriptor, ParsedManifest, parse_manifest
from drift.oci.mediatypes import DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2, OCI_INDEX, OCI_MANIFEST

__all__ = ["MANIFEST_ACCEPT", "Manifest", "RegistryClient", "as_digest"]

MANIFEST_ACCEPT: Final = ", ".join(
    (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_V2, DOCKER_MANIFEST_LIST)
)


def as_digest(value: str, what: str) -> Digest:
    try:
        return parse_digest(value)
    except RegistryError as exc:
        raise PullError(f"{what}: {exc.message}") from None


@dataclass(frozen=True, slots=True)
class Manifest:
    data: bytes  # exactly as served: its digest is the manifest's identity
    digest: Digest
    parsed: ParsedManifest
    document: Mapping[str, Any]

    @property
    def is_index(self) -> bool:
        return self.parsed.is_index

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.parsed.media_type, self.digest, len(self.data))

    def child(self, platform: Platform) -> tuple[Descriptor, Platform | None]:
        """The entry of an index for ``platform``, and the platform it names."""
        entries = self.document.get("manifests")
        assert isinstance(entries, list)  # parse_manifest checked it
        chosen = select_manifest([e for e in entries if isinstance(e, Mapping)], platform)
        for child in self.parsed.children:
            if str(child.digest) == chosen.get("digest"):
                return child, platform_of(chosen)
        raise AssertionError("the chosen entry is one of the children")

    def blobs(self) -> tuple[Descriptor, ...]:
        """An image manifest's config and layers, without non-distributable layers (which
        registries need not hold; image-spec layer.md)."""
        return self.parsed.required_blobs


def _verified(data: bytes, expected: Digest, what: str) -> Digest:
    actual = Digest.of(data, expected.algorithm)
    if actual != expected:
        raise PullError(f"digest mismatch for {what}: expected {expected}, got {actual}")
    return actual


class RegistryClient:
    def __init__(self, session: RegistrySession, repository: str) -> None:
        self.session = session
        self.repository = repository

    async def manifest(self, reference: str, expected: Descriptor | None = None) -> Manifest:
        what = f"manifest {self.repository}:{reference}"
        response = await self.session.get(
            f"/v2/{self.repository}/manifests/{reference}", [("accept", MANIFEST_ACCEPT)]
        )
        if response.status != 200:
            body = await read_all(response, MAX_ERROR_BODY, what)
            raise RegistryStatusError(
                response.status, f"GET {what}: {describe_error(response.status, body)}"
            )
        data = await read_all(response, MAX_MANIFEST_BYTES, what)
        if expected is not None:
            if len(data) != expected.size:
                raise PullError(f"{what}: {len(data)} bytes, its descriptor says {expected.size}")
            digest = _verified(data, expected.digest, what)
        elif ":" in reference:
            digest = _verified(data, as_digest(reference, what), what)
        elif (announced := response.header("docker-content-digest")) is not None:
            digest = _verified(data, as_digest(announced, f"{what} Docker-Content-Digest"), what)
        else:
            digest = Digest.of(data)
        try:
            parsed = parse_manifest(data, response.header("content-type") or "")
        except RegistryError as exc:
            raise PullError(f"{what}: {exc.message}") from None
        document = orjson.loads(data)  # parse_manifest proved it is a JSON object
        return Manifest(data, digest, parsed, document)

    async def open_blob(self, digest: Digest, offset: int = 0) -> H3Response:
        """The response to a blob GET (200, or 206 from ``offset``); errors raise."""
        what = f"blob {digest}"
        headers = [("range", f"bytes={offset}-")] if offset else []
        response = await self.session.get(f"/v2/{self.repository}/blobs/{digest}", headers)
        if response.status not in (200, 206):
            body = await read_all(response, MAX_ERROR_BODY, what)
            raise RegistryStatusError(
                response.status, f"GET {what}: {describe_error(response.status, body)}"
            )
        return response
