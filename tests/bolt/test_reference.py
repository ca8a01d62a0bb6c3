"""Parsing what ``driftctl pull`` is asked for, and the ``--pin`` it is given."""

from __future__ import annotations

import base64
import hashlib

import pytest

from drift.bolt.errors import PullError
from drift.bolt.reference import DEFAULT_QUIC_PORT, Endpoint, ImageReference, parse_reference
from drift.bolt.trust import parse_pin

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "127.0.0.1:4434/team/app:v1",
            ImageReference(Endpoint("127.0.0.1", 4434), "team/app", "v1", None),
        ),
        (
            "registry.local/app",
            ImageReference(Endpoint("registry.local", DEFAULT_QUIC_PORT), "app", "latest", None),
        ),
        (
            f"localhost/app@{DIGEST}",
            ImageReference(Endpoint("localhost", 4433), "app", None, DIGEST),
        ),
        (
            f"[::1]:5443/a/b/c:1.0@{DIGEST}",
            ImageReference(Endpoint("::1", 5443), "a/b/c", "1.0", DIGEST),
        ),
    ],
)
def test_references_with_a_registry(text: str, expected: ImageReference) -> None:
    parsed = parse_reference(text)
    assert parsed == expected
    assert parse_reference(str(parsed)) == parsed


def test_the_api_reference_is_the_digest_when_there_is_one() -> None:
    assert parse_reference(f"h.local/app:v1@{DIGEST}").reference == DIGEST
    assert parse_reference("h.local/app:v1").reference == "v1"
    assert Endpoint("::1", 4433).authority == "[::1]:4433"


def test_without_a_registry_only_discovery_can_tell_where() -> None:
    with pytest.raises(PullError, match="names no registry"):
        parse_reference("team/app:v1")
    parsed = parse_reference("team/app:v1", registry_optional=True)
    assert parsed == ImageReference(None, "team/app", "v1", None)


@pytest.mark.parametrize(
    "text",
    [
        "h.local/App:v1",  # upper case in the repository
        "h.local/app:-v1",  # a tag starting with '-'
        "h.local/app@sha256:abc",  # a truncated digest
        "h.local:99999/app",  # a port out of range
        "h.local:/app",
        "[::1/app",
    ],
)
def test_malformed_references_are_one_line_errors(text: str) -> None:
    with pytest.raises(PullError) as raised:
        parse_reference(text)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("seed", [b"spki", b"70"])  # the second pin begins with "/"
def test_pins_in_drift_and_curl_notation(seed: bytes) -> None:
    pin = base64.b64encode(hashlib.sha256(seed).digest()).decode()
    assert parse_pin(f"sha256/{pin}") == pin
    assert parse_pin(f"sha256//{pin}") == pin
    for bad in (pin, "sha256/not-base64!", f"sha256/{base64.b64encode(b'short').decode()}"):
        with pytest.raises(PullError, match="invalid --pin"):
            parse_pin(bad)
