"""The 401 answers that tell a client how to authenticate (RFC 7617 Basic, RFC 6750 Bearer).

In ``token`` mode the challenge names Drift's token endpoint (or the configured external realm),
the service and the scope the request needs, as the Docker token specification describes; the
client fetches a token there and retries. The other modes ask for Basic credentials.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from drift.core.grants import Access
from drift.core.http import Request
from drift.oci.errors import ErrorCode, RegistryError

__all__ = ["TOKEN_PATH", "BasicChallenge", "BearerChallenge", "Challenge"]

TOKEN_PATH = "/auth/token"  # noqa: S105 - a path


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Challenge(ABC):
    @abstractmethod
    def header(self, req: Request, needed: tuple[Access, ...], error: str | None) -> str:
        """The ``WWW-Authenticate`` value; ``error`` is an RFC 6750 error code, if any."""

    def unauthorized(
        self, req: Request, needed: tuple[Access, ...], message: str, error: str | None = None
    ) -> RegistryError:
        return RegistryError(
            ErrorCode.UNAUTHORIZED,
            message,
            headers={"WWW-Authenticate": self.header(req, needed, error)},
        )


@dataclass(frozen=True, slots=True)
class BasicChallenge(Challenge):
    realm: str

    def header(self, req: Request, needed: tuple[Access, ...], error: str | None) -> str:
        del req, needed, error
        return f'Basic realm={_quoted(self.realm)}, charset="UTF-8"'


@dataclass(frozen=True, slots=True)
class BearerChallenge(Challenge):
    realm: str  # "" = this registry's own token endpoint, as the client reaches it
    service: str

    def header(self, req: Request, needed: tuple[Access, ...], error: str | None) -> str:
        realm = self.realm or req.base_url() + TOKEN_PATH
        parts = [f"realm={_quoted(realm)}", f"service={_quoted(self.service)}"]
        if needed:
            parts.append(f"scope={_quoted(' '.join(access.scope() for access in needed))}")
        if error is not None:
            parts.append(f"error={_quoted(error)}")
        return "Bearer " + ",".join(parts)
