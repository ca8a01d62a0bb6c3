"""The value grammars accepted for addresses, durations and booleans."""

from __future__ import annotations

import pytest

from drift.config.loader import load_settings
from drift.config.values import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:5000", "127.0.0.1", 5000),
        ("localhost:1", "localhost", 1),
        ("registry.example.internal:65535", "registry.example.internal", 65535),
        ("[::1]:5000", "::1", 5000),
        ("[::]:443", "::", 443),
        (" 0.0.0.0:80 ", "0.0.0.0", 80),
    ],
)
def test_addresses(text: str, host: str, port: int) -> None:
    server = load_settings(None, {"DRIFT_BIND_ADDR": text}).server
    assert (server.bind_host, server.bind_port) == (host, port)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("168h", 604800),
        ("30m", 1800),
        ("7d", 604800),
        ("90s", 90),
        ("1h30m", 5400),
        ("2w", 1209600),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    settings = load_settings(None, {"DRIFT_REGISTRY_UPLOAD_PURGE_AGE": text})
    assert settings.registry.upload_purge_age_seconds == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, True) for v in ("true", "1", "YES", "on")],
        *[(v, False) for v in ("false", "0", "no", "Off")],
    ],
)
def test_booleans(value: str, expected: bool) -> None:
    settings = load_settings(None, {"DRIFT_REGISTRY_DELETE_ENABLED": value})
    assert settings.registry.delete_enabled is expected


@pytest.mark.parametrize("seconds", [0, 1, 59, 60, 3600, 5400, 86400, 604800, 90061])
def test_format_duration_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
