"""The HMAC-signed ``_state`` query parameter of upload ``Location`` URLs.

It lets any node of a multi-node deployment continue an upload another node started (shared
``DRIFT_SECRET``) and binds the session id to its repository. It is JSON, never pickled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["UploadState", "UploadStateCodec"]


@dataclass(frozen=True, slots=True)
class UploadState:
    name: str
    uuid: str
    offset: int
    started_at: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UploadStateCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def encode(self, state: UploadState) -> str:
        payload = orjson.dumps(
            {"n": state.name, "u": state.uuid, "o": state.offset, "s": state.started_at}
        )
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, token: str) -> UploadState:
        invalid = RegistryError(
            ErrorCode.BLOB_UPLOAD_INVALID, "invalid upload state (_state) in the upload URL"
        )
        try:
            payload_text, signature_text = token.split(".", 1)
            payload, signature = _unb64(payload_text), _unb64(signature_text)
        except ValueError:
            raise invalid from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise invalid
        try:
            fields = orjson.loads(payload)
            return UploadState(
                str(fields["n"]), str(fields["u"]), int(fields["o"]), str(fields["s"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise invalid from None
