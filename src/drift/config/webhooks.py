"""``[[webhooks.endpoints]]``: the codec of the webhook endpoint list.

In ``drift.toml`` the list is an array of tables; in the environment (``DRIFT_WEBHOOKS_ENDPOINTS``)
it is the same list as a JSON array of objects. An endpoint's secret is never shown back: errors
name the endpoint by its position and URL, and ``dump`` prints ``"<set>"`` in its place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from drift.config.errors import InvalidValueError
from drift.config.settings import WEBHOOK_ACTIONS, WebhookEndpoint
from drift.config.tables import EntryError, TableArray, check_keys, name_list
from drift.config.values import TomlScalar, parse_duration, show

__all__ = ["WebhookEndpoints"]

_KEYS: Final = ("url", "secret", "actions", "repositories", "timeout")
_MAX_TIMEOUT: Final = 300.0


def _url(raw: object) -> str:
    parts = urlsplit(raw) if isinstance(raw, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise EntryError("url", f"expected an http:// or https:// URL, got {show(raw)}")
    return str(raw)


def _secret(raw: object) -> str:
    if not isinstance(raw, str):
        raise EntryError("secret", "expected a string")  # the value itself is never shown
    return raw


def _timeout(raw: object) -> float:
    expected = f"a number of seconds in (0, {_MAX_TIMEOUT:.0f}] or a duration such as '5s'"
    seconds: float
    if isinstance(raw, bool):
        raise EntryError("timeout", f"expected {expected}, got {show(raw)}")
    if isinstance(raw, int | float):
        seconds = float(raw)
    else:
        try:
            seconds = float(parse_duration(raw)) if isinstance(raw, str) else math.nan
        except InvalidValueError:
            seconds = math.nan
    if not 0 < seconds <= _MAX_TIMEOUT:  # NaN fails too
        raise EntryError("timeout", f"expected {expected}, got {show(raw)}")
    return seconds


class WebhookEndpoints(TableArray[WebhookEndpoint]):
    noun = "endpoint"
    expected = (
        "an array of tables [[webhooks.endpoints]] (in the environment: a JSON array of objects) "
        "with url, and optionally secret, actions, repositories, timeout"
    )

    def entry(self, table: Mapping[str, object]) -> WebhookEndpoint:
        check_keys(table, _KEYS, ("url",))
        defaults = WebhookEndpoint(url="")
        return WebhookEndpoint(
            url=_url(table["url"]),
            secret=_secret(table.get("secret", defaults.secret)),
            actions=name_list(
                "actions", table.get("actions", list(defaults.actions)), WEBHOOK_ACTIONS
            ),
            repositories=name_list("repositories", table.get("repositories", ["*"]), None),
            timeout_seconds=_timeout(table.get("timeout", defaults.timeout_seconds)),
        )

    def dump_entry(self, value: WebhookEndpoint) -> dict[str, TomlScalar]:
        table: dict[str, TomlScalar] = {"url": value.url}
        if value.secret:
            table["secret"] = "<set>"  # noqa: S105 - a placeholder, never the secret
        table["actions"] = list[TomlScalar](value.actions)
        table["repositories"] = list[TomlScalar](value.repositories)
        table["timeout"] = value.timeout_seconds
        return table
