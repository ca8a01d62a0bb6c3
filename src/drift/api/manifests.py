"""Manifest endpoints: GET/HEAD with Accept negotiation, PUT by tag or digest, DELETE."""

from __future__ import annotations

from multidict import CIMultiDict

from drift.api.common import etag_matches
from drift.core.http import Request, RequestBody, Response
from drift.core.urls import absolute
from drift.oci.errors import ErrorCode, RegistryError
from drift.oci.manifest import MAX_MANIFEST_BYTES
from drift.registry.manifests import StoredManifest
from drift.registry.service import Registry

__all__ = ["ManifestHandlers"]


def _too_large() -> RegistryError:
    return RegistryError(
        ErrorCode.MANIFEST_INVALID,
        f"manifest is larger than the {MAX_MANIFEST_BYTES} byte limit",
        status=413,
    )


async def _read_manifest_body(req: Request) -> bytes:
    length = req.content_length
    if length is not None and length > MAX_MANIFEST_BYTES:
        raise _too_large()
    body: RequestBody = req.body
    parts: list[bytes] = []
    total = 0
    while chunk := await body.read(MAX_MANIFEST_BYTES + 1 - total):
        parts.append(chunk)
        total += len(chunk)
        if total > MAX_MANIFEST_BYTES:
            raise _too_large()
    return b"".join(parts)


def _acceptable(req: Request, media_type: str) -> bool:
    """Whether the ``Accept`` headers admit ``media_type`` (no header admits everything)."""
    values = req.headers.getall("Accept", [])
    if not values:
        return True
    accepted = {
        item.split(";", 1)[0].strip().lower()
        for value in values
        for item in value.split(",")
        if item.strip()
    }
    return bool(accepted & {media_type, "*/*", "application/*"})


class ManifestHandlers:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def get(self, req: Request) -> Response:
        name, reference = req.params["name"], req.params["reference"]
        stored = await self._registry.manifests.fetch(name, reference)
        if not _acceptable(req, stored.media_type):
            raise RegistryError(
                ErrorCode.MANIFEST_UNKNOWN,
                f"manifest {reference!r} is a {stored.media_type}, which the Accept header "
                "does not allow",
                detail={"mediaType": stored.media_type},
            )
        headers = self._headers(stored)
        if etag_matches(req, stored.digest):
            return Response.empty(304, headers)
        return Response.data(200, stored.body, stored.media_type, headers)

    @staticmethod
    def _headers(stored: StoredManifest) -> dict[str, str]:
        return {"Docker-Content-Digest": str(stored.digest), "ETag": f'"{stored.digest}"'}

    async def put(self, req: Request) -> Response:
        name, reference = req.params["name"], req.params["reference"]
        body = await _read_manifest_body(req)
        result = await self._registry.manifests.put(
            name,
            reference,
            body,
            req.headers.get("Content-Type", ""),
            req.query.getall("tag", []),
        )
        headers: CIMultiDict[str] = CIMultiDict(
            {
                "Location": absolute(req, f"/v2/{name}/manifests/{result.digest}"),
                "Docker-Content-Digest": str(result.digest),
                "Content-Length": "0",
            }
        )
        if result.subject is not None:
            headers["OCI-Subject"] = str(result.subject)
        for tag in result.tags:
            headers.add("OCI-Tag", tag)
        return Response(201, headers)

    async def delete(self, req: Request) -> Response:
        self._registry.require_delete_enabled()
        await self._registry.manifests.delete(req.params["name"], req.params["reference"])
        return Response.empty(202)
