"""Presigned URLs of objects (``S3Driver.redirect_url``): clients fetch blobs from S3 directly;
Drift itself reads objects and listings with them (``fetch``).

A URL is signed with Signature Version 4 in the query string (AWS "Authenticating Requests:
Using Query Parameters"). botocore presigns S3 URLs with the legacy Signature Version 2 unless
told otherwise, which AWS refuses in every region opened since 2014: the presigning client asks
for ``s3v4`` explicitly. Only the ``host`` header is signed, so a client may add ``Range`` to a
presigned GET and S3 answers 206 (RFC 9110 section 14.2).

With ``public_endpoint`` set (clients reach S3 at another address than Drift does: a CDN, a
proxy, a public name of an internal endpoint), URLs are signed for that endpoint by a client of
their own (same credentials, region and addressing style). Signing is local: that client never
opens a connection, except to fetch credentials from the default AWS chain when none are set.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Final, Literal

from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError

from drift.storage.driver import StorageError
from drift.storage.s3.client import ClientOptions, S3Connection

if TYPE_CHECKING:
    from drift.config.settings import S3Settings

__all__ = ["DEFAULT_EXPIRY", "Presigner"]

DEFAULT_EXPIRY: Final = dt.timedelta(minutes=20)  # as distribution's S3 driver
_OPERATIONS: Final[dict[str, Literal["get_object", "head_object"]]] = {
    "GET": "get_object",
    "HEAD": "head_object",
}


class _SigningConnection(S3Connection):
    def _config(self) -> AioConfig:
        return super()._config().merge(AioConfig(signature_version="s3v4"))


class Presigner:
    """Presigned GET/HEAD URLs of keys in the driver's bucket."""

    def __init__(
        self,
        settings: S3Settings,
        options: ClientOptions,
        expiry: dt.timedelta = DEFAULT_EXPIRY,
    ) -> None:
        endpoint = settings.public_endpoint or settings.endpoint
        self.endpoint = endpoint or f"https://s3.{settings.region}.amazonaws.com"
        self.expiry = expiry
        self._connection = _SigningConnection(replace(settings, endpoint=endpoint), options)

    async def url(self, key: str, method: str = "GET") -> str:
        operation = _OPERATIONS.get(method.upper())
        if operation is None:
            raise ValueError(f"no presigned URL for {method}: only GET and HEAD")
        return await self._presign(operation, {"Key": key}, key)

    async def list_url(
        self, prefix: str, *, delimiter: bool, max_keys: int, token: str | None = None
    ) -> str:
        """A ListObjectsV2 of the keys below ``prefix`` (with ``Delimiter="/"`` if asked),
        from ``token`` on; keys come URL-encoded (``encoding-type=url``, as botocore asks)."""
        params: dict[str, str | int] = {"Prefix": prefix, "MaxKeys": max_keys}
        if delimiter:
            params["Delimiter"] = "/"
        if token is not None:
            params["ContinuationToken"] = token
        return await self._presign("list_objects_v2", params, prefix or "/")

    async def _presign(self, operation: str, params: dict[str, str | int], what: str) -> str:
        client = await self._connection.client()
        try:
            return await client.generate_presigned_url(
                operation,
                Params={"Bucket": self._connection.bucket, **params},
                ExpiresIn=int(self.expiry.total_seconds()),
            )
        except BotoCoreError as exc:  # no credentials found, a bad endpoint
            raise StorageError(f"cannot presign {what} for {self.endpoint}: {exc}") from exc

    async def prepare(self) -> None:
        """Create the signing client (local: no request is sent)."""
        await self._connection.client()

    async def close(self) -> None:
        await self._connection.close()
