"""``GET /v2/``: the version check every client starts with (distribution-spec end-1)."""

from __future__ import annotations

from tests.support.rawhttp import HttpClient


def test_version_check_answers_200_with_api_version_header(client: HttpClient) -> None:
    reply = client.get("/v2/")
    assert reply.status == 200, str(reply)
    assert reply.header("Docker-Distribution-API-Version") == "registry/2.0", str(reply)


def test_version_check_head(client: HttpClient) -> None:
    reply = client.head("/v2/")
    assert reply.status == 200, str(reply)
    assert reply.body == b""
    assert reply.header("Docker-Distribution-API-Version") == "registry/2.0", str(reply)


def test_version_check_without_trailing_slash(client: HttpClient) -> None:
    reply = client.get("/v2")
    assert reply.status in {200, 301, 308}, str(reply)
    if reply.status != 200:
        assert client.target(reply.header("Location") or "") == "/v2/", str(reply)
