"""The aiobotocore S3 client of one driver: connection settings, timeouts, retries, errors.

Bounded in time everywhere, so that an S3 endpoint that is down or stalled answers a request
with 503 within seconds instead of hanging it:

- connecting gives up after ``connect_timeout``; a socket read waits at most ``read_timeout``;
- botocore's *standard* retry mode retries throttling (``SlowDown``, 503), 5xx and connection
  errors with exponential backoff and jitter, ``max_attempts`` tries in all;
- every request/response exchange additionally runs under a deadline (``call``), which also
  covers the retries: ``operation_timeout`` for metadata requests, more for data transfers.

Every failure leaves this module as a ``StorageError`` (``PathNotFoundError`` for a missing
key); no botocore or aiohttp exception reaches the registry.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from drift.storage.driver import PathNotFoundError, StorageError
from drift.storage.s3.buffers import StreamedBody

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from drift.config.settings import S3Settings

__all__ = ["ClientOptions", "S3Connection", "error_code", "is_s3_failure", "refuses_streaming"]


_MISSING: Final = frozenset({"NoSuchKey", "404", "NotFound"})
_THROTTLED: Final = frozenset({"SlowDown", "Throttling", "ThrottlingException", "503"})
# what a store without aws-chunked trailers answers a streamed PUT (not: a corrupt body)
_NO_STREAMING: Final = frozenset(
    {
        "NotImplemented",
        "InvalidRequest",
        "InvalidArgument",
        "MissingContentLength",
        "XAmzContentSHA256Mismatch",
        "411",
        "501",
    }
)
_REFUSED: Final = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "ExpiredToken"}
)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Tuning that ``[s3]`` does not expose."""

    connect_timeout: float = 2.0
    read_timeout: float = 20.0
    operation_timeout: float = 6.0  # a metadata request, retries included
    transfer_rate: float = float(1 << 20)  # bytes/s a data transfer may not fall below
    max_attempts: int = 3  # the first request included
    max_pool_connections: int = 64

    def transfer_timeout(self, size: int) -> float:
        return self.operation_timeout + size / self.transfer_rate


def is_s3_failure(exc: BaseException) -> bool:
    """A failure of the exchange with S3 (not a bug): botocore's errors, timeouts, OS errors,
    and the errors of aiohttp (the HTTP client under aiobotocore), recognised by their module
    so that storage code does not import an HTTP library (tests/unit/test_layering.py)."""
    if isinstance(exc, ClientError | BotoCoreError | OSError | TimeoutError):
        return True
    return any(cls.__module__.startswith("aiohttp.") for cls in type(exc).__mro__)


def _unreachable(exc: BaseException) -> bool:
    """No answer came (vs. an answer refusing the request, or a request never sent)."""
    if isinstance(exc, BotoCoreError):
        return isinstance(exc, BotoConnectionError | HTTPClientError)
    return is_s3_failure(exc) and not isinstance(exc, ClientError)


def error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    if code:
        return code
    return str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _checksum_in_trailer(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """A streamed body (``stream``) cannot be summed before it is sent: its checksum goes in a
    trailer (aws-chunked), which botocore picks by itself only over https."""
    algorithm = context.get("checksum", {}).get("request_algorithm")
    if isinstance(algorithm, dict) and isinstance(params.get("body"), StreamedBody):
        algorithm["in"] = "trailer"


def refuses_streaming(exc: BaseException) -> bool:
    """S3 refused a streamed request (``_checksum_in_trailer``) for its form, not its bytes."""
    cause = exc.__cause__
    return isinstance(cause, ClientError) and error_code(cause) in _NO_STREAMING


_sessions: dict[int, AioSession] = {}


def _session() -> AioSession:
    """One botocore session per process: it loads the S3 service model once (~0.2 s)."""
    return _sessions.setdefault(os.getpid(), get_session())


class S3Connection:
    """The client of one driver, created on first use in the running event loop."""

    def __init__(self, settings: S3Settings, options: ClientOptions) -> None:
        self.bucket = settings.bucket
        self.options = options
        self.endpoint = settings.endpoint or f"https://s3.{settings.region}.amazonaws.com"
        self._settings = settings
        self._client: S3Client | None = None
        self._resources = AsyncExitStack()
        self._lock = asyncio.Lock()

    def _config(self) -> AioConfig:
        addressing = "path" if self._settings.path_style else "auto"
        return AioConfig(
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.read_timeout,
            retries={"mode": "standard", "total_max_attempts": self.options.max_attempts},
            max_pool_connections=self.options.max_pool_connections,
            tcp_keepalive=True,
            # No SHA-256 of every body on the event loop over plain http: bodies carry their
            # CRC32 instead, computed off the loop (``buffers``), which S3 verifies.
            s3={"addressing_style": addressing, "payload_signing_enabled": False},
            # botocore adds no checksum of its own (S3-compatible servers lag behind AWS's
            # newer defaults); the writers name theirs explicitly.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    async def client(self) -> S3Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                settings = self._settings
                creator = _session().create_client(
                    "s3",
                    region_name=settings.region,
                    endpoint_url=settings.endpoint or None,
                    config=self._config(),
                    # None: the default AWS chain (environment, profile, instance role).
                    aws_access_key_id=settings.access_key or None,
                    aws_secret_access_key=settings.secret_key or None,
                )
                try:
                    client = await self._resources.enter_async_context(creator)
                except (BotoCoreError, ValueError) as exc:
                    raise StorageError(f"S3 client for {self.endpoint}: {exc}") from exc
                for operation in ("PutObject", "UploadPart"):
                    client.meta.events.register(f"before-call.s3.{operation}", _checksum_in_trailer)
                self._client = client
            return self._client

    async def close(self) -> None:
        self._client = None
        await self._resources.aclose()

    @asynccontextmanager
    async def call(
        self, what: str, path: str, deadline: float | None = None
    ) -> AsyncIterator[None]:
        """A deadline around one exchange (retries included); S3 failures as storage errors."""
        try:
            async with asyncio.timeout(
                self.options.operation_timeout if deadline is None else deadline
            ):
                yield
        except StorageError:
            raise
        except Exception as exc:
            if not is_s3_failure(exc):
                raise
            raise self.translate(exc, what, path) from exc

    def translate(self, exc: BaseException, what: str, path: str) -> StorageError:
        """The storage error an S3 failure of ``what`` on ``path`` stands for."""
        if isinstance(exc, ClientError):
            return self._client_error(exc, what, path)
        if isinstance(exc, TimeoutError):
            return StorageError(
                f"S3 endpoint {self.endpoint} did not answer {what} of {path} in time"
            )
        if _unreachable(exc):
            return StorageError(f"S3 endpoint {self.endpoint} unreachable at {what}: {exc}")
        return StorageError(f"S3 {what} of {path} failed: {exc}")

    def _client_error(self, exc: ClientError, what: str, path: str) -> StorageError:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message") or code
        if code in _MISSING:
            return PathNotFoundError(path)
        if code == "NoSuchBucket":
            return StorageError(f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}")
        if code in _THROTTLED:
            return StorageError(f"S3 is throttling requests ({code}) at {what} of {path}")
        verb = "refused" if code in _REFUSED else "failed"
        return StorageError(f"S3 {verb} {what} of {path}: {code}: {message}")
