"""``[[webhooks.endpoints]]``: the codec of the webhook endpoint list.

In ``drift.toml`` the list is an array of tables; in the environment (``DRIFT_WEBHOOKS_ENDPOINTS``)
it is the same list as a JSON array of objects. An endpoint's secret is never shown back: errors
name the endpoint by its position and URL, and ``dump`` prints ``"<set>"`` in its place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from drift.config.errors import InvalidValueError
from drift.config.settings import WEBHOOK_ACTIONS, WebhookEndpoint
from drift.config.values import Codec, TomlScalar, parse_duration, show

__all__ = ["WebhookEndpoints"]

_KEYS: Final = ("url", "secret", "actions", "repositories", "timeout")
_MAX_TIMEOUT: Final = 300.0


class _EndpointError(Exception):
    """One endpoint's fault: ``key`` and what was wrong with it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _url(raw: object) -> str:
    parts = urlsplit(raw) if isinstance(raw, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _EndpointError("url", f"expected an http:// or https:// URL, got {show(raw)}")
    return str(raw)


def _secret(raw: object) -> str:
    if not isinstance(raw, str):
        raise _EndpointError("secret", "expected a string")  # the value itself is never shown
    return raw


def _names(key: str, raw: object, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
    expected = f"a non-empty array of {'|'.join(allowed) if allowed else 'glob patterns'}"
    if not isinstance(raw, list) or not raw or not all(isinstance(i, str) and i for i in raw):
        raise _EndpointError(key, f"expected {expected}, got {show(raw)}")
    values = tuple(dict.fromkeys(item.strip().lower() if allowed else item for item in raw))
    unknown = [value for value in values if allowed and value not in allowed]
    if unknown:
        raise _EndpointError(key, f"expected {expected}, got {show(unknown[0])}")
    return values


def _timeout(raw: object) -> float:
    expected = f"a number of seconds in (0, {_MAX_TIMEOUT:.0f}] or a duration such as '5s'"
    seconds: float
    if isinstance(raw, bool):
        raise _EndpointError("timeout", f"expected {expected}, got {show(raw)}")
    if isinstance(raw, int | float):
        seconds = float(raw)
    else:
        try:
            seconds = float(parse_duration(raw)) if isinstance(raw, str) else math.nan
        except InvalidValueError:
            seconds = math.nan
    if not 0 < seconds <= _MAX_TIMEOUT:  # NaN fails too
        raise _EndpointError("timeout", f"expected {expected}, got {show(raw)}")
    return seconds


def _endpoint(table: Mapping[str, object]) -> WebhookEndpoint:
    unknown = [key for key in table if key not in _KEYS]
    if unknown:
        raise _EndpointError(unknown[0], f"unknown key (known: {', '.join(_KEYS)})")
    if "url" not in table:
        raise _EndpointError("url", "missing; every endpoint needs its url")
    defaults = WebhookEndpoint(url="")
    return WebhookEndpoint(
        url=_url(table["url"]),
        secret=_secret(table.get("secret", defaults.secret)),
        actions=_names("actions", table.get("actions", list(defaults.actions)), WEBHOOK_ACTIONS),
        repositories=_names("repositories", table.get("repositories", ["*"]), None),
        timeout_seconds=_timeout(table.get("timeout", defaults.timeout_seconds)),
    )


class WebhookEndpoints(Codec[tuple[WebhookEndpoint, ...]]):
    expected = (
        "an array of tables [[webhooks.endpoints]] (in the environment: a JSON array of objects) "
        "with url, and optionally secret, actions, repositories, timeout"
    )

    def parse(self, raw: object) -> tuple[WebhookEndpoint, ...]:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.strip() else []
            except ValueError:
                raise InvalidValueError(f"expected {self.expected}, got invalid JSON") from None
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise InvalidValueError
        endpoints: list[WebhookEndpoint] = []
        for number, table in enumerate(raw, start=1):
            try:
                endpoints.append(_endpoint(table))
            except _EndpointError as bad:
                url = table.get("url")
                named = f" ({url})" if isinstance(url, str) and bad.key != "url" else ""
                raise InvalidValueError(
                    f"endpoint {number}{named}: {bad.key}: {bad.message}"
                ) from None
        return tuple(endpoints)

    def dump(self, value: tuple[WebhookEndpoint, ...]) -> TomlScalar:
        tables: list[TomlScalar] = []
        for endpoint in value:
            table: dict[str, TomlScalar] = {"url": endpoint.url}
            if endpoint.secret:
                table["secret"] = "<set>"  # noqa: S105 - a placeholder, never the secret
            table["actions"] = list[TomlScalar](endpoint.actions)
            table["repositories"] = list[TomlScalar](endpoint.repositories)
            table["timeout"] = endpoint.timeout_seconds
            tables.append(table)
        return tables
