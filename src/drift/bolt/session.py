"""The registry session of one pull: its HTTP/3 connection, authorization and token realm.

One QUIC connection carries every request. When it is lost, or when the registry refuses new
streams on it (a GOAWAY, seen as ``H3_REQUEST_REJECTED`` resets), the next request opens a new
one; a request that failed before its response started is sent again once (every request of a
pull is an idempotent GET).

A 401 goes to the ``Authorizer`` and the request is retried once with what it prepared. The
token realm of a Bearer challenge is fetched over this HTTP/3 connection when it is the registry
itself (same host and port over https, as Drift's own realm is), and otherwise over HTTPS/1.1
with aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from drift.bolt.auth import Authorizer, Credentials, parse_challenges
from drift.bolt.errors import PullError, TransferError
from drift.bolt.h3 import USER_AGENT, ConnectionOptions, H3Client, H3Response
from drift.bolt.reference import Endpoint

__all__ = ["RegistrySession", "describe_error", "read_all"]

MAX_ERROR_BODY: Final = 64 * 1024
MAX_TOKEN_BODY: Final = 1 << 20
_TOKEN_TIMEOUT: Final = 30.0


async def read_all(response: H3Response, limit: int, what: str) -> bytes:
    """The whole (small) body of ``response``; ``PullError`` beyond ``limit`` bytes."""
    pieces: list[bytes] = []
    size = 0
    while chunk := await response.body.read(limit + 1 - size):
        pieces.append(chunk)
        size += len(chunk)
        if size > limit:
            response.close()
            raise PullError(f"{what}: the registry sent more than {limit} bytes")
    return b"".join(pieces)


def describe_error(status: int, body: bytes) -> str:
    """``<status> <CODE>: <message>`` from an OCI error envelope, or what the body says."""
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        document: Any = json.loads(body)
        errors = document.get("errors") if isinstance(document, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code, message = errors[0].get("code"), errors[0].get("message")
            return f"{status} {code}: {message}" if message else f"{status} {code}"
    text = body.decode("utf-8", "replace").strip().splitlines()
    return f"{status} {text[0][:200]}" if text else str(status)


class RegistrySession:
    def __init__(
        self, endpoint: Endpoint, options: ConnectionOptions, credentials: Credentials | None
    ) -> None:
        self.endpoint = endpoint
        self._options = options
        self._client: H3Client | None = None
        self._lock = asyncio.Lock()
        self.authorizer = Authorizer(credentials, self._fetch_token)

    def close(self) -> None:
        if self._client is not None:
            self._client.shutdown()
            self._client = None

    async def _connection(self) -> H3Client:
        async with self._lock:
            client = self._client
            if client is None or client.lost is not None or client.refusing:
                if client is not None:
                    client.shutdown()
                self._client = None
                client = self._client = await H3Client.open(self.endpoint, self._options)
            return client

    async def get(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> H3Response:
        """GET ``path`` with the session's authorization, answering one 401."""
        for attempt in range(2):
            authorization = self.authorizer.authorization
            sent = [*headers, *((("authorization", authorization),) if authorization else ())]
            response = await self._send(path, sent)
            if response.status != 401 or attempt == 1:
                return response
            refusal = describe_error(401, await read_all(response, MAX_ERROR_BODY, path))
            challenges = parse_challenges(response.header("www-authenticate") or "")
            await self.authorizer.respond(challenges, f"GET {path}: {refusal}")
        raise AssertionError("unreachable")

    async def _send(self, path: str, headers: Sequence[tuple[str, str]]) -> H3Response:
        try:
            return await (await self._connection()).request("GET", path, headers)
        except TransferError as exc:
            if not exc.reconnect:
                raise
        return await (await self._connection()).request("GET", path, headers)

    # -- the token realm

    def _is_registry(self, realm: str) -> bool:
        parts = urlsplit(realm)
        host = (parts.hostname or "").lower()
        return (
            parts.scheme == "https"
            and host == self.endpoint.host.lower()
            and (parts.port or 443) == self.endpoint.port
        )

    async def _fetch_token(
        self, realm: str, query: Mapping[str, str], credentials: Credentials | None
    ) -> str:
        if self._is_registry(realm):
            parts = urlsplit(realm)
            path = (
                (parts.path or "/") + "?" + "&".join(filter(None, [parts.query, urlencode(query)]))
            )
            basic = () if credentials is None else (("authorization", credentials.basic()),)
            response = await self._send(path, basic)
            status = response.status
            body = await read_all(response, MAX_TOKEN_BODY, f"token realm {realm}")
        else:
            status, body = await self._fetch_over_https(realm, query, credentials)
        if status != 200:
            raise PullError(f"token realm {realm} refused: {describe_error(status, body)}")
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            document: Any = json.loads(body)
            if isinstance(document, dict):
                token = document.get("token") or document.get("access_token")
                if isinstance(token, str) and token:
                    return token
        raise PullError(f"token realm {realm} answered without a token")

    async def _fetch_over_https(
        self, realm: str, query: Mapping[str, str], credentials: Credentials | None
    ) -> tuple[int, bytes]:
        import aiohttp  # noqa: PLC0415 - an external realm only: aiohttp costs 0.2 s to load

        auth = None if credentials is None else aiohttp.BasicAuth(*_pair(credentials))
        timeout = aiohttp.ClientTimeout(total=_TOKEN_TIMEOUT)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT}) as http,
                http.get(
                    realm, params=dict(query), auth=auth, ssl=self._options.trust.ssl_context()
                ) as reply,
            ):
                return reply.status, await reply.content.read(MAX_TOKEN_BODY)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PullError(
                f"token realm {realm} unreachable: {exc or type(exc).__name__}"
            ) from None


def _pair(credentials: Credentials) -> tuple[str, str]:
    return credentials.username, credentials.password
