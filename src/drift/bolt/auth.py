"""Answering a registry's 401: Basic credentials or a Bearer token (Docker token flow).

``parse_challenges`` reads ``WWW-Authenticate`` (RFC 9110 section 11.6.1: a scheme followed by
comma-separated ``name=value`` parameters, values plain tokens or quoted strings; several
challenges may share one field). ``Authorizer`` keeps the ``Authorization`` value every request
carries and replaces it when the registry refuses it:

- ``Basic`` (RFC 7617): the ``--username`` and password, once; refused again, they are wrong.
- ``Bearer`` (Docker token authentication, RFC 6750): a token from the challenge's ``realm`` for
  its ``service`` and ``scope``, fetched with the Basic credentials when there are any and
  anonymously otherwise. A later 401 (an expired token) fetches a new one.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from drift.bolt.errors import PullError

__all__ = ["Authorizer", "Challenge", "Credentials", "TokenFetcher", "parse_challenges"]

_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTED: Final = re.compile(r'"((?:[^"\\]|\\.)*)"')
_BARE_VALUE: Final = re.compile(r"[^\s,]+")  # a token; leniently, anything up to a separator
_ESCAPE: Final = re.compile(r"\\(.)")
_SEPARATORS: Final = re.compile(r"[\s,]*")
_SPACES: Final = re.compile(r"\s*")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case
    params: Mapping[str, str]  # names in lower case


TokenFetcher = Callable[[str, Mapping[str, str], Credentials | None], Awaitable[str]]


def _skip(pattern: re.Pattern[str], value: str, position: int) -> int:
    match = pattern.match(value, position)
    return position if match is None else match.end()


def _param_value(value: str, position: int) -> tuple[str, int]:
    """The quoted-string or bare value at ``position``, and where it ends."""
    quoted = _QUOTED.match(value, position)
    if quoted is not None:
        return _ESCAPE.sub(r"\1", quoted.group(1)), quoted.end()
    bare = _BARE_VALUE.match(value, position)
    return ("", position) if bare is None else (bare.group(0), bare.end())


def parse_challenges(value: str) -> list[Challenge]:
    """The challenges of a ``WWW-Authenticate`` value; malformed parts are skipped."""
    challenges: list[tuple[str, dict[str, str]]] = []
    position, end = 0, len(value)
    while position < end:
        position = _skip(_SEPARATORS, value, position)
        token = _TOKEN.match(value, position)
        if token is None:
            position += 1
            continue
        name = token.group(0).lower()
        position = _skip(_SPACES, value, token.end())
        if position < end and value[position] == "=":
            param, position = _param_value(value, _skip(_SPACES, value, position + 1))
            if challenges:  # a parameter before any scheme belongs to nothing
                challenges[-1][1][name] = param
        else:
            challenges.append((name, {}))
    return [Challenge(scheme, params) for scheme, params in challenges]


class Authorizer:
    def __init__(self, credentials: Credentials | None, fetch_token: TokenFetcher) -> None:
        self._credentials = credentials
        self._fetch_token = fetch_token
        self.authorization: str | None = None  # sent with every request

    async def respond(self, challenges: Sequence[Challenge], refusal: str) -> None:
        """Prepare the retry of a request refused with ``challenges`` (``refusal`` describes
        the 401); raise ``PullError`` when there is nothing left to try."""
        by_scheme = {challenge.scheme: challenge for challenge in challenges}
        bearer, basic = by_scheme.get("bearer"), by_scheme.get("basic")
        if bearer is not None:
            realm = bearer.params.get("realm")
            if not realm:
                raise PullError(f"{refusal}; its Bearer challenge names no realm")
            query = {k: v for k, v in bearer.params.items() if k in ("service", "scope")}
            token = await self._fetch_token(realm, query, self._credentials)
            self.authorization = f"Bearer {token}"
            return
        if basic is not None:
            if self._credentials is None:
                raise PullError(
                    f"{refusal}; the registry wants credentials: --username and --password-stdin"
                )
            header = self._credentials.basic()
            if self.authorization == header:
                raise PullError(f"{refusal}; credentials of {self._credentials.username!r} refused")
            self.authorization = header
            return
        schemes = ", ".join(by_scheme) or "none"
        raise PullError(f"{refusal}; unsupported authentication scheme(s): {schemes}")
