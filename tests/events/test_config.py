"""``[audit]`` and ``[webhooks]``: the endpoint tables, and their JSON form in the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drift.config.loader import ConfigError, load_settings, render_settings
from drift.config.settings import WebhookEndpoint, WebhookSettings

SECRET = "hook-secret-0123456789"

FILE = f"""
[audit]
enabled = false

[webhooks]
queue_size = 50
max_attempts = 3
backoff = "2s"

[[webhooks.endpoints]]
url = "https://ci.example/hook?token=abc"
secret = "{SECRET}"

[[webhooks.endpoints]]
url = "http://127.0.0.1:8080/"
actions = ["DELETE", "pull"]
repositories = ["library/*", "team-?/app"]
timeout = 0.5
"""


def test_endpoints_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "drift.toml"
    config.write_text(FILE)
    settings = load_settings(config, {})
    assert settings.audit.enabled is False
    assert settings.webhooks == WebhookSettings(
        endpoints=(
            WebhookEndpoint("https://ci.example/hook?token=abc", SECRET),
            WebhookEndpoint(
                "http://127.0.0.1:8080/",
                actions=("delete", "pull"),
                repositories=("library/*", "team-?/app"),
                timeout_seconds=0.5,
            ),
        ),
        queue_size=50,
        max_attempts=3,
        backoff_seconds=2,
    )
    assert SECRET not in repr(settings)


def test_endpoints_from_the_environment_win_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "drift.toml"
    config.write_text(FILE)
    value = json.dumps([{"url": "http://hooks.test/x", "timeout": "1m"}])
    settings = load_settings(
        config, {"DRIFT_WEBHOOKS_ENDPOINTS": value, "DRIFT_AUDIT_ENABLED": "1"}
    )
    assert settings.webhooks.endpoints == (
        WebhookEndpoint("http://hooks.test/x", timeout_seconds=60.0),
    )
    assert settings.audit.enabled is True
    assert load_settings(None, {"DRIFT_WEBHOOKS_ENDPOINTS": ""}).webhooks.endpoints == ()


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        (
            [{"url": "ftp://x/"}],
            "endpoint 1: url: expected an http:// or https:// URL, got 'ftp://x/'",
        ),
        ([{"secret": SECRET}], "endpoint 1: url: missing"),
        (
            [{"url": "http://a/"}, {"url": "http://b/", "actions": ["push", "tag"]}],
            "endpoint 2 (http://b/): actions: expected a non-empty array of "
            "push|pull|delete|mount, got 'tag'",
        ),
        ([{"url": "http://a/", "repositories": []}], "repositories: expected a non-empty array"),
        ([{"url": "http://a/", "timeout": 0}], "timeout: expected a number of seconds"),
        ([{"url": "http://a/", "timeout": "soon"}], "got 'soon'"),
        ([{"url": "http://a/", "retries": 3}], "endpoint 1 (http://a/): retries: unknown key"),
        ([{"url": "http://a/", "secret": 12345678}], "secret: expected a string"),
        ({"url": "http://a/"}, "expected an array of tables [[webhooks.endpoints]]"),
    ],
)
def test_a_bad_endpoint_is_one_line_naming_it(endpoints: object, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"DRIFT_WEBHOOKS_ENDPOINTS": json.dumps(endpoints)})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("config error: webhooks.endpoints (DRIFT_WEBHOOKS_ENDPOINTS): ")
    assert expected in message
    assert "12345678" not in message
    assert SECRET not in message


def test_invalid_json_in_the_environment() -> None:
    with pytest.raises(ConfigError, match="got invalid JSON"):
        load_settings(None, {"DRIFT_WEBHOOKS_ENDPOINTS": "[{"})


def test_render_hides_endpoint_secrets_and_reads_back(tmp_path: Path) -> None:
    config = tmp_path / "drift.toml"
    config.write_text(FILE.replace(f'secret = "{SECRET}"\n', ""))
    settings = load_settings(config, {})
    rendered = render_settings(settings)
    assert "endpoints = [{ url = " in rendered
    again = tmp_path / "again.toml"
    again.write_text(rendered.replace('secret = "<generated>"  # DRIFT_SECRET\n', ""))
    assert load_settings(again, {}) == settings

    shown = render_settings(
        load_settings(
            None, {"DRIFT_WEBHOOKS_ENDPOINTS": json.dumps([{"url": "http://a/", "secret": SECRET}])}
        )
    )
    assert 'secret = "<set>"' in shown
    assert SECRET not in shown
