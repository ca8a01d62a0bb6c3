"""Blob endpoints: GET/HEAD with single ranges and conditional requests, DELETE."""

from __future__ import annotations

from drift.api.common import digest_param, etag_matches
from drift.core.http import Body, FileBody, Request, Response, StreamBody
from drift.oci.errors import ErrorCode, RegistryError
from drift.oci.ranges import ByteRange, RangeNotSatisfiable, parse_range_header
from drift.registry.blobs import BlobLocation
from drift.registry.service import Registry

__all__ = ["BlobHandlers"]


class BlobHandlers:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def get(self, req: Request) -> Response:
        digest = digest_param(req)
        blob = await self._registry.blobs.locate(req.params["name"], digest)
        headers = {
            "Docker-Content-Digest": str(digest),
            "ETag": f'"{digest}"',
            "Accept-Ranges": "bytes",
            "Cache-Control": "max-age=31536000, immutable",
        }
        if etag_matches(req, digest):
            return Response.empty(304, headers)
        byte_range = self._range(req, blob, headers["ETag"])
        if byte_range is None:
            response = Response.empty(200, headers)
            response.body = self._body(req, blob, 0, blob.size)
            response.headers["Content-Length"] = str(blob.size)
        else:
            response = Response.empty(206, headers)
            response.body = self._body(req, blob, byte_range.start, byte_range.length)
            response.headers["Content-Length"] = str(byte_range.length)
            response.headers["Content-Range"] = byte_range.content_range(blob.size)
        response.headers["Content-Type"] = "application/octet-stream"
        return response

    @staticmethod
    def _range(req: Request, blob: BlobLocation, etag: str) -> ByteRange | None:
        header = req.headers.get("Range")
        if header is None:
            return None
        if_range = req.headers.get("If-Range")
        if if_range is not None and if_range.strip() != etag:
            return None  # RFC 9110 §13.1.5: the validator does not match, send everything
        try:
            return parse_range_header(header, blob.size)
        except RangeNotSatisfiable as exc:
            raise RegistryError(
                ErrorCode.RANGE_INVALID,
                str(exc),
                headers={"Content-Range": f"bytes */{blob.size}"},
            ) from None

    def _body(self, req: Request, blob: BlobLocation, offset: int, length: int) -> Body:
        if req.method == "HEAD":
            return b""
        if blob.local_path is not None:
            return FileBody(blob.local_path, offset, length)
        chunks = self._registry.driver.read_stream(blob.storage_path, offset, length)
        return StreamBody(chunks, length)

    async def delete(self, req: Request) -> Response:
        self._registry.require_delete_enabled()
        await self._registry.blobs.unlink_layer(req.params["name"], digest_param(req))
        return Response.empty(202)
