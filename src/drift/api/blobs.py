"""Blob endpoints: GET/HEAD with single ranges and conditional requests, DELETE.

A GET may be answered with ``307 Temporary Redirect`` to a presigned storage URL (S3 with
``redirect`` on; ``BlobStore.redirect_url`` says when): the client fetches the bytes from S3
itself, as from distribution's S3 driver. Ranges are redirected too: Go's HTTP client (Docker,
containerd, skopeo) and curl send the same Range header to the new Location, and S3 answers it
(only ``host`` is signed). Not redirected: HEAD (storage is asked for the size, never for the
bytes), a request with ``If-Range`` (S3 would compare it with its own ETag, not ours), and
HTTP/3 (Bolt nodes pull over QUIC from the registry itself and do not follow redirects).
"""

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
        reading = req.method != "HEAD"
        blob = await self._registry.blobs.locate(req.params["name"], digest, read=reading)
        headers = {
            "Docker-Content-Digest": str(digest),
            "ETag": f'"{digest}"',
            "Accept-Ranges": "bytes",
            "Cache-Control": "max-age=31536000, immutable",
        }
        if etag_matches(req, digest):
            return Response.empty(304, headers)
        byte_range = self._range(req, blob, headers["ETag"])
        if reading and req.transport == "h1" and "If-Range" not in req.headers:
            location = await self._registry.blobs.redirect_url(blob)
            if location is not None:
                redirect = {"Docker-Content-Digest": str(digest), "Location": location}
                return Response.empty(307, redirect)
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
        return StreamBody(self._registry.blobs.read(blob, offset, length), length)

    async def delete(self, req: Request) -> Response:
        self._registry.require_delete_enabled()
        await self._registry.blobs.unlink_layer(req.params["name"], digest_param(req))
        return Response.empty(202)
