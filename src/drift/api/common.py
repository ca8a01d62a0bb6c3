"""Small helpers the API handlers share: parameters, header sets, locations."""

from __future__ import annotations

from drift.core.http import Request, Response
from drift.core.urls import absolute
from drift.oci.digest import Digest, parse_digest
from drift.oci.errors import ErrorCode, RegistryError
from drift.registry.uploads import Uploads, UploadSession

__all__ = [
    "blob_created",
    "digest_param",
    "etag_matches",
    "query_digest",
    "upload_response",
]


def digest_param(req: Request) -> Digest:
    return parse_digest(req.params["digest"])


def query_digest(req: Request, key: str = "digest") -> Digest:
    value = req.query.get(key)
    if value is None:
        raise RegistryError(ErrorCode.DIGEST_INVALID, f"the {key!r} query parameter is required")
    return parse_digest(value)


def etag_matches(req: Request, digest: Digest) -> bool:
    """``If-None-Match`` (RFC 9110 §13.1.2) against the strong ETag ``"<digest>"``."""
    header = req.headers.get("If-None-Match")
    if header is None:
        return False
    candidates = {value.strip().removeprefix("W/") for value in header.split(",")}
    return "*" in candidates or f'"{digest}"' in candidates


def blob_created(req: Request, name: str, digest: Digest) -> Response:
    return Response.empty(
        201,
        {
            "Location": absolute(req, f"/v2/{name}/blobs/{digest}"),
            "Docker-Content-Digest": str(digest),
        },
    )


def upload_response(
    req: Request, uploads: Uploads, session: UploadSession, status: int
) -> Response:
    location = absolute(
        req,
        f"/v2/{session.name}/blobs/uploads/{session.uuid}",
        {"_state": uploads.state_token(session)},
    )
    return Response.empty(
        status,
        {
            "Location": location,
            "Range": session.range_header,
            "Docker-Upload-UUID": session.uuid,
            # distribution-spec "Pushing a blob in chunks": 1 on disk, S3's part minimum there.
            "OCI-Chunk-Min-Length": str(uploads.min_chunk_length),
        },
    )
