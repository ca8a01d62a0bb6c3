"""The credentials of an ``Authorization`` header: Basic (RFC 7617) or Bearer (RFC 6750)."""

from __future__ import annotations

import binascii
from base64 import b64decode
from dataclasses import dataclass

__all__ = [
    "BasicCredentials",
    "BearerCredentials",
    "MalformedCredentialsError",
    "parse_authorization",
]


class MalformedCredentialsError(ValueError):
    """An Authorization header Drift cannot read (the client gets the challenge again)."""


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class BearerCredentials:
    token: str


def parse_authorization(header: str | None) -> BasicCredentials | BearerCredentials | None:
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedCredentialsError("Basic credentials are not base64 of UTF-8") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise MalformedCredentialsError("Basic credentials lack the ':' separator")
        return BasicCredentials(username, password)
    if scheme == "bearer" and value:
        return BearerCredentials(value)
    raise MalformedCredentialsError("expected Basic or Bearer credentials")
