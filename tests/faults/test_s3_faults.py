"""Drift on S3 when S3 goes away: SeaweedFS killed between chunks, in the middle of a streamed
chunk and before a commit, then restarted on the same ports and data; and an endpoint that
stalls (accepts connections, answers nothing). Every request answers 503 UNAVAILABLE within
the client's deadlines instead of hanging, ``/readyz`` says why, no partial blob becomes
visible, and once S3 is back the upload resumes from its ``Range`` and commits the right digest.

This module runs its own SeaweedFS: killing the session's one would disturb the other tests.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.support.interrupted import (
    StalledBody,
    resume_or_restart,
    sha256_of_blob,
    stream_in_background,
)
from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import HttpClient, Reply, with_query
from tests.support.registry import (
    OCTETS,
    RegistryApi,
    assert_error,
    unique_repo,
    upload_offset_from,
)
from tests.support.seaweedfs import SeaweedFS, new_prefix, start_seaweedfs
from tests.support.servers import RunningRegistry, start_drift
from tests.support.stallproxy import StallProxy
from tests.support.storage import blob_data

pytestmark = pytest.mark.faults

MIB: Final = 1 << 20
PART: Final = 5 * MIB
DOWN_ANSWER_SECONDS: Final = 10.0  # S3 refusing connections: botocore's retries, then 503
# a stalled endpoint: the 6 s deadline of a metadata request (ClientOptions), plus margin
STALL_ANSWER_SECONDS: Final = 15.0
BACK_SECONDS: Final = 20.0


@pytest.fixture(scope="module")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs-faults")) as server:
        yield server


@pytest.fixture
def s3(weed: SeaweedFS) -> Iterator[SeaweedFS]:
    """SeaweedFS running when the test starts and when it ends, whatever the test did."""
    if weed.process is None:
        weed.start()
    yield weed
    if weed.process is None:
        weed.start()


@pytest.fixture(scope="module")
def prefix() -> str:
    return new_prefix()


@pytest.fixture(scope="module")
def drift(
    weed: SeaweedFS, prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    env = {**weed.drift_env(prefix), "DRIFT_S3_PART_SIZE": "5MiB"}
    with start_drift(tmp_path_factory.mktemp("drift-s3-faults"), env=env) as server:
        yield server


def timed(call: Callable[[], Reply]) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = call()
    return reply, time.monotonic() - started


def wait_ready(registry: RunningRegistry) -> None:
    deadline = time.monotonic() + BACK_SECONDS
    with HttpClient(registry.url) as http:
        while (reply := http.get("/readyz")).status != 200:
            assert time.monotonic() < deadline, f"not ready again:\n{reply}"
            time.sleep(0.2)


def assert_unavailable(reply: Reply, seconds: float, limit: float) -> None:
    assert_error(reply, 503, "UNAVAILABLE")
    assert seconds < limit, f"answered after {seconds:.1f} s:\n{reply}"


@dataclass
class Upload:
    """An upload session of random content on Drift, and the connection that pushes it."""

    drift: RunningRegistry
    http: HttpClient
    repo: str
    data: bytes
    location: str

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    @property
    def blob(self) -> str:
        return f"/v2/{self.repo}/blobs/{self.digest}"

    def back_and_invisible(self, weed: SeaweedFS, prefix: str) -> None:
        """Once S3 is back: Drift is ready and the blob exists neither in the API nor in S3."""
        weed.start()
        wait_ready(self.drift)
        assert_error(self.http.head(self.blob), 404, "BLOB_UNKNOWN")
        key = f"{prefix}/{blob_data(Path(), self.digest).as_posix()}"
        assert key not in weed.keys(f"{prefix}/docker/registry/v2/blobs/"), "partial blob stored"

    def finish(self, sent_at_most: int) -> None:
        resume_or_restart(self.http, self.repo, self.location, self.data, sent_at_most)
        assert sha256_of_blob(self.http, self.repo, self.digest) == self.digest


@pytest.fixture
def upload(
    request: pytest.FixtureRequest, s3: SeaweedFS, drift: RunningRegistry
) -> Iterator[Upload]:
    """``request.param``: the size of the content."""
    with HttpClient(drift.url) as http:
        repo = unique_repo("s3-faults")
        location = RegistryApi(http).start_upload(repo)
        yield Upload(drift, http, repo, random_bytes(request.param, repo), location)


@pytest.mark.parametrize("upload", [13 * MIB + 5], indirect=True)
def test_s3_down_between_chunks_then_back(upload: Upload, s3: SeaweedFS, prefix: str) -> None:
    http = upload.http
    first = PART + MIB  # a part and a tail segment
    reply = http.patch(
        upload.location,
        body=upload.data[:first],
        headers={**OCTETS, "Content-Range": f"0-{first - 1}"},
    )
    assert reply.status == 202, str(reply)
    upload.location = reply.header("Location") or upload.location

    s3.kill()
    second = upload.data[first : first + 3 * MIB]
    reply, seconds = timed(
        lambda: http.patch(
            upload.location,
            body=second,
            headers={**OCTETS, "Content-Range": f"{first}-{first + len(second) - 1}"},
        )
    )
    assert_unavailable(reply, seconds, DOWN_ANSWER_SECONDS)
    ready, seconds = timed(lambda: http.get("/readyz"))
    assert ready.status == 503, str(ready)
    assert b"storage unavailable" in ready.body, str(ready)
    assert b"unreachable" in ready.body, str(ready)
    assert seconds < DOWN_ANSWER_SECONDS
    assert "unreachable" in upload.drift.log_tail()  # the log names the cause, for operators
    reply, seconds = timed(lambda: http.head(upload.blob))
    assert_unavailable(reply, seconds, DOWN_ANSWER_SECONDS)

    upload.back_and_invisible(s3, prefix)
    status = http.get(upload.location)
    assert status.status == 204, str(status)
    assert upload_offset_from(status) == first  # the failed chunk left nothing behind
    upload.finish(first)


@pytest.mark.parametrize("upload", [24 * MIB], indirect=True)
def test_s3_killed_while_a_chunk_streams(upload: Upload, s3: SeaweedFS, prefix: str) -> None:
    body = StalledBody(upload.data, 2 * PART - MIB)  # one part stored, the next one not whole
    thread, outcome = stream_in_background(upload.drift.url, "PATCH", upload.location, body)
    try:
        assert body.reached.wait(60), "the upload never got going"
        time.sleep(0.5)  # let the server take in what the socket buffers hold
        s3.kill()
    finally:
        body.release.set()
    thread.join(60)
    assert not thread.is_alive(), "the PATCH hangs with S3 down"
    assert outcome, "the upload thread reported nothing"
    if isinstance(outcome[0], Reply):  # else the server answered early and dropped the body
        assert_error(outcome[0], 503, "UNAVAILABLE")

    upload.back_and_invisible(s3, prefix)
    upload.finish(2 * PART)


@pytest.mark.parametrize("upload", [11 * MIB + 77], indirect=True)
def test_commit_with_s3_down_fails_cleanly_and_succeeds_later(
    upload: Upload, s3: SeaweedFS, prefix: str
) -> None:
    http = upload.http
    reply = http.patch(upload.location, body=upload.data, headers=OCTETS)
    assert reply.status == 202, str(reply)
    commit = with_query(reply.header("Location") or upload.location, digest=upload.digest)

    s3.kill()
    reply, seconds = timed(lambda: http.put(commit))
    assert_unavailable(reply, seconds, DOWN_ANSWER_SECONDS)

    upload.back_and_invisible(s3, prefix)
    reply = http.put(commit)
    assert reply.status == 201, str(reply)
    assert sha256_of_blob(http, upload.repo, upload.digest) == upload.digest


def test_stalled_endpoint_answers_503_not_a_hang(s3: SeaweedFS, tmp_path: Path) -> None:
    with StallProxy(s3.ports["s3"]) as proxy:
        env = {**s3.drift_env(new_prefix()), "DRIFT_S3_ENDPOINT": proxy.endpoint}
        with start_drift(tmp_path / "drift", env=env) as drift, HttpClient(drift.url) as http:
            api = RegistryApi(http)
            image = api.push_image("stall/app", "v1", layers=1)
            location = api.start_upload("stall/app")
            chunk = random_bytes(MIB, "stalled chunk")

            proxy.stall()
            requests: dict[str, Callable[[HttpClient], Reply]] = {
                "manifest": lambda c: c.get(api.manifest_path("stall/app", "v1")),
                "blob": lambda c: c.head(api.blob_path("stall/app", next(iter(image.blobs)))),
                "patch": lambda c: c.patch(location, body=chunk, headers=OCTETS),
                "readyz": lambda c: c.get("/readyz"),
            }

            def send(name: str) -> tuple[str, Reply, float]:
                with HttpClient(drift.url) as client:
                    reply, seconds = timed(lambda: requests[name](client))
                return name, reply, seconds

            with ThreadPoolExecutor(len(requests)) as pool:
                answers = list(pool.map(send, requests))
            for name, reply, seconds in answers:
                assert seconds < STALL_ANSWER_SECONDS, f"{name} took {seconds:.1f} s"
                if name == "readyz":
                    assert reply.status == 503, str(reply)
                    assert b"did not answer" in reply.body, str(reply)
                else:
                    assert_unavailable(reply, seconds, STALL_ANSWER_SECONDS)

            proxy.resume()
            wait_ready(drift)
            api.assert_pullable(image)
            data = chunk + random_bytes(MIB, "after the stall")
            assert resume_or_restart(http, "stall/app", location, data, 0) == "resumed"


def test_drift_starts_while_the_endpoint_stalls(s3: SeaweedFS, tmp_path: Path) -> None:
    """Start-up prepares the S3 clients without a request: a stalled endpoint delays nothing,
    /readyz tells, and the registry works once the endpoint answers."""
    with StallProxy(s3.ports["s3"]) as proxy:
        proxy.stall()
        env = {
            **s3.drift_env(new_prefix()),
            "DRIFT_S3_ENDPOINT": proxy.endpoint,
            "DRIFT_S3_REDIRECT": "true",
        }
        with start_drift(tmp_path / "drift", env=env) as drift, HttpClient(drift.url) as http:
            reply, seconds = timed(lambda: http.get("/readyz"))
            assert reply.status == 503, str(reply)
            assert seconds < STALL_ANSWER_SECONDS, f"/readyz took {seconds:.1f} s"
            proxy.resume()
            wait_ready(drift)
            api = RegistryApi(http)
            image = api.push_image("stall/start", "v1", layers=1)
            for digest, data in image.blobs.items():  # presigned redirects, fetched from S3
                reply = http.get(api.blob_path("stall/start", digest))
                assert reply.status == 307, str(reply)
                with urllib.request.urlopen(reply.header("Location") or "", timeout=10) as got:
                    assert got.read() == data
