"""Upload endpoints: POST (session, monolithic, mount), PATCH, PUT, GET status, DELETE."""

from __future__ import annotations

from drift.api.common import blob_created, query_digest, upload_response
from drift.core.http import Request, Response
from drift.oci.digest import parse_digest
from drift.oci.errors import ErrorCode, RegistryError
from drift.oci.names import validate_name
from drift.oci.ranges import parse_chunk_range
from drift.registry.service import Registry
from drift.registry.uploads import UploadSession

__all__ = ["UploadHandlers"]


class UploadHandlers:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._uploads = registry.uploads

    async def start(self, req: Request) -> Response:
        name = req.params["name"]
        mount = req.query.get("mount")
        if mount is not None:
            digest = parse_digest(mount)
            source = req.query.get("from")
            if source is not None and await self._registry.blobs.mount(
                name, validate_name(source), digest
            ):
                return blob_created(req, name, digest)
        elif "digest" in req.query:
            digest = query_digest(req)
            await self._uploads.upload_whole(name, req.body, digest, req.content_length)
            return blob_created(req, name, digest)
        session = await self._uploads.start(name)
        return upload_response(req, self._uploads, session, 202)

    async def _session(self, req: Request, *, writing: bool = False) -> UploadSession:
        return await self._uploads.open(
            req.params["name"], req.params["uuid"], req.query.get("_state"), writing=writing
        )

    async def _append(self, req: Request, session: UploadSession) -> UploadSession:
        start = self._chunk_start(req)
        return await self._uploads.append(session, req.body, start, req.content_length)

    def _chunk_start(self, req: Request) -> int | None:
        start: int | None = None
        header = req.headers.get("Content-Range")
        if header is not None:
            chunk = parse_chunk_range(header)
            if chunk is None:
                raise RegistryError(
                    ErrorCode.BLOB_UPLOAD_INVALID,
                    f"malformed Content-Range {header!r}; expected '<start>-<end>'",
                )
            length = req.content_length
            if length is not None and length != chunk.length:
                raise RegistryError(
                    ErrorCode.SIZE_INVALID,
                    f"Content-Length {length} does not match Content-Range {header!r}",
                )
            start = chunk.start
        return start

    async def patch(self, req: Request) -> Response:
        session = await self._append(req, await self._session(req, writing=True))
        return upload_response(req, self._uploads, session, 202)

    async def put(self, req: Request) -> Response:
        digest = query_digest(req)
        session = await self._session(req, writing=True)
        if req.content_length != 0:
            start = self._chunk_start(req)
            await self._uploads.finish(session, req.body, start, digest, req.content_length)
        else:
            await self._uploads.commit(session, digest)
        return blob_created(req, session.name, digest)

    async def status(self, req: Request) -> Response:
        return upload_response(req, self._uploads, await self._session(req), 204)

    async def cancel(self, req: Request) -> Response:
        await self._uploads.cancel(await self._session(req))
        return Response.empty(204)
