"""The same registry scenarios over HTTP/1.1 and HTTP/3 against one ``drift serve``.

Every scenario runs once per transport (``transport`` fixture); the cross checks push over one
transport and pull over the other, and compare the error replies of both request for request.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from tests.quic.scenarios import (
    MIB,
    Client,
    error_observations,
    pull_whole_and_ranges,
    push_chunked,
    push_monolithic,
    push_pull_image,
    resume_interrupted_patch,
)
from tests.support.auth import basic_headers, challenge_params
from tests.support.h3client import H3Client
from tests.support.oci import digest_of
from tests.support.quic import H3Server, start_drift_h3
from tests.support.rawhttp import HttpClient, send_truncated, with_query
from tests.support.registry import OCTETS, assert_error, unique_repo, upload_offset_from


def test_push_monolithic(connect: Callable[[], Client], rng: random.Random) -> None:
    http = connect()
    digest = push_monolithic(http, unique_repo("h3"), rng.randbytes(3 * MIB + 17))
    assert digest.startswith("sha256:")


def test_push_chunked(connect: Callable[[], Client], rng: random.Random) -> None:
    push_chunked(connect(), unique_repo("h3"), rng.randbytes(5 * MIB + 3), chunk=2 * MIB)


def test_pull_whole_and_ranges(connect: Callable[[], Client], rng: random.Random) -> None:
    pull_whole_and_ranges(connect(), unique_repo("h3"), rng.randbytes(2 * MIB + 1))


def test_image_push_pull_delete(connect: Callable[[], Client]) -> None:
    push_pull_image(connect(), unique_repo("h3"))


def test_errors_carry_the_oci_codes(connect: Callable[[], Client]) -> None:
    error_observations(connect(), unique_repo("h3"))


def test_errors_are_identical_over_both_transports(h3_server: H3Server) -> None:
    with HttpClient(h3_server.registry.url) as h1, h3_server.h3_client() as h3:
        assert error_observations(h3, unique_repo("h3")) == error_observations(
            h1, unique_repo("h3")
        )


def test_content_crosses_transports(h3_server: H3Server, rng: random.Random) -> None:
    repo = unique_repo("h3")
    with HttpClient(h3_server.registry.url) as h1, h3_server.h3_client() as h3:
        for writer, reader in ((h1, h3), (h3, h1)):
            data = rng.randbytes(MIB + 5)
            digest = push_monolithic(writer, repo, data)
            reply = reader.get(f"/v2/{repo}/blobs/{digest}")
            assert reply.status == 200, str(reply)
            assert reply.body == data


def _cut_h1(server: H3Server) -> Callable[[Client, str, bytes, int], None]:
    def interrupt(http: Client, location: str, data: bytes, declared: int) -> None:
        target = http.target(location)
        send_truncated(
            server.registry.url,
            "PATCH",
            target,
            declared_length=declared,
            data=data,
            headers=OCTETS,
        )

    return interrupt


def _reset_h3(http: Client, location: str, data: bytes, declared: int) -> None:
    assert isinstance(http, H3Client)

    def stored_a_block() -> bool:  # reset only once the server wrote some of it
        return upload_offset_from(http.get(location)) >= MIB

    http.upload_and_reset(
        "PATCH", location, data, declared_length=declared, headers=OCTETS, until=stored_a_block
    )


def test_resume_after_an_interrupted_patch(
    connect: Callable[[], Client], transport: str, h3_server: H3Server, rng: random.Random
) -> None:
    interrupt = _reset_h3 if transport == "h3" else _cut_h1(h3_server)
    kept = resume_interrupted_patch(connect(), unique_repo("h3"), rng, interrupt)
    assert kept >= MIB, "the server should keep what it stored of the interrupted PATCH"


# -- auth: the same challenge over both transports

USER, PASSWORD = "ada", "ada-Pa55-77c1f0"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H3Server]:
    root = tmp_path_factory.mktemp("quic-auth") / "data"
    env = {
        "DRIFT_AUTH": "basic",
        "DRIFT_USERS": f"{USER}:{PASSWORD}",
        "DRIFT_RBAC_ADMINS": "user:ada",
    }
    with start_drift_h3(root, env=env) as server:
        yield server


@pytest.mark.parametrize("transport_name", ["h1", "h3"])
def test_auth_challenge(auth_server: H3Server, transport_name: str, rng: random.Random) -> None:
    http: Client = (
        auth_server.h3_client() if transport_name == "h3" else HttpClient(auth_server.registry.url)
    )
    with http:
        anonymous = http.get("/v2/")
        assert_error(anonymous, 401, "UNAUTHORIZED")
        scheme, params = challenge_params(anonymous.header("WWW-Authenticate"))
        assert scheme == "Basic", str(anonymous)
        assert params.get("realm"), str(anonymous)
        wrong = http.get("/v2/", headers=basic_headers(USER, "wrong-Pa55-000000"))
        assert_error(wrong, 401, "UNAUTHORIZED")
        repo = unique_repo("h3")
        data = rng.randbytes(100_000)
        digest = digest_of(data)
        target = with_query(f"/v2/{repo}/blobs/uploads/", digest=digest)
        assert_error(http.post(target, body=data), 401, "UNAUTHORIZED")
        granted = basic_headers(USER, PASSWORD)
        assert http.get("/v2/", headers=granted).status == 200
        pushed = http.post(target, body=data, headers=granted)
        assert pushed.status == 201, str(pushed)
        assert http.get(f"/v2/{repo}/blobs/{digest}", headers=granted).body == data
