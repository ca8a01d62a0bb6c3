"""Webhooks from a real Drift process to receivers on 127.0.0.1: envelope, signature, filters,
retries, and a dead or hanging receiver that must not slow a push down."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.oci import OCI_MANIFEST
from tests.support.rawhttp import HttpClient
from tests.support.registry import RegistryApi, unique_repo
from tests.support.servers import RunningRegistry, free_port, start_drift
from tests.support.webhooks import WebhookReceiver

SECRET = "all-events-secret-0123"
LIB_SECRET = "lib-deletes-secret-0123"
ENVELOPE = "application/vnd.docker.distribution.events.v1+json"


def endpoints_env(*endpoints: dict[str, Any], **settings: str) -> dict[str, str]:
    env = {"DRIFT_WEBHOOKS_ENDPOINTS": json.dumps(list(endpoints))}
    env.update({f"DRIFT_WEBHOOKS_{key.upper()}": value for key, value in settings.items()})
    return env


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(failures={"/flaky": 1}) as running:
        yield running


@pytest.fixture(scope="module")
def drift(
    receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    env = endpoints_env(
        {"url": receiver.url("/all"), "secret": SECRET},
        {
            "url": receiver.url("/lib-deletes"),
            "secret": LIB_SECRET,
            "actions": ["delete"],
            "repositories": ["lib/*"],
        },
        {"url": receiver.url("/lib-pulls"), "actions": ["pull"], "repositories": ["lib/*"]},
        {"url": receiver.url("/flaky"), "actions": ["mount"]},
        backoff="1s",
    )
    with start_drift(tmp_path_factory.mktemp("webhooks") / "data", env=env) as running:
        yield running


@pytest.fixture
def api(drift: RunningRegistry) -> Iterator[RegistryApi]:
    with HttpClient(drift.url) as http:
        yield RegistryApi(http)


def manifest_events(receiver: WebhookReceiver, path: str, action: str, repo: str) -> list[Any]:
    return [
        event
        for event in receiver.events(path)
        if event["action"] == action
        and event["target"]["repository"] == repo
        and event["target"].get("mediaType") == OCI_MANIFEST
    ]


def test_push_and_delete_reach_the_receiver_signed(
    api: RegistryApi, drift: RunningRegistry, receiver: WebhookReceiver
) -> None:
    repo = unique_repo("lib")
    image = api.push_image(repo, "v1")
    receiver.wait_for(lambda r: len(manifest_events(r, "/all", "push", repo)) == 1)
    (push,) = manifest_events(receiver, "/all", "push", repo)
    assert push["target"] == {
        "mediaType": OCI_MANIFEST,
        "size": len(image.manifest),
        "length": len(image.manifest),
        "digest": image.digest,
        "repository": repo,
        "url": f"{drift.url}/v2/{repo}/manifests/{image.digest}",
        "tag": "v1",
    }
    assert push["request"]["method"] == "PUT"
    assert push["request"]["addr"].startswith("127.0.0.1")
    assert push["request"]["host"] == drift.host_port
    assert push["actor"] == {}
    assert set(push["source"]) == {"addr", "instanceID"}
    assert push["timestamp"].endswith("Z")
    blobs = {
        event["target"]["digest"]
        for event in receiver.events("/all")
        if event["action"] == "push" and event["target"]["repository"] == repo
    }
    assert blobs == {image.digest, *image.blobs}

    reply = api.http.delete(api.manifest_path(repo, image.digest))
    assert reply.status == 202, str(reply)
    receiver.wait_for(lambda r: any(e["action"] == "delete" for e in r.events("/lib-deletes")))
    (deleted,) = [
        e
        for e in receiver.events("/all")
        if e["action"] == "delete" and e["target"]["repository"] == repo
    ]
    assert deleted["target"]["digest"] == image.digest
    assert deleted["request"]["method"] == "DELETE"

    for path, secret in (("/all", SECRET), ("/lib-deletes", LIB_SECRET)):
        for delivery in receiver.received(path):
            assert delivery.headers["Content-Type"] == ENVELOPE
            assert delivery.signed_with(secret), delivery
            assert SECRET.encode() not in delivery.body
            assert LIB_SECRET.encode() not in delivery.body


def test_filters_by_action_and_repository(
    api: RegistryApi, drift: RunningRegistry, receiver: WebhookReceiver
) -> None:
    lib, other = unique_repo("lib"), unique_repo("other")
    for repo in (lib, other):
        image = api.push_image(repo, "v1")
        assert api.http.get(api.manifest_path(repo, "v1")).status == 200
        assert api.http.head(api.manifest_path(repo, "v1")).status == 200
        assert api.http.delete(api.manifest_path(repo, "v1")).status == 202
    receiver.wait_for(
        lambda r: (
            len(
                [
                    e
                    for e in r.events("/all")
                    if e["action"] == "delete" and e["target"]["repository"] == other
                ]
            )
            == 1
        )
    )
    receiver.wait_for(
        lambda r: any(e["target"]["repository"] == lib for e in r.events("/lib-pulls"))
    )
    # Events are delivered in order per endpoint: everything before other's delete is in.
    lib_deletes = receiver.events("/lib-deletes")
    assert {e["action"] for e in lib_deletes} == {"delete"}
    assert {e["target"]["repository"] for e in lib_deletes} >= {lib}
    assert all(e["target"]["repository"].startswith("lib/") for e in lib_deletes)
    assert not any(e["target"]["repository"] == other for e in lib_deletes)
    pulls = [e for e in receiver.events("/lib-pulls") if e["target"]["repository"] == lib]
    assert [(e["action"], e["request"]["method"], e["target"]["tag"]) for e in pulls] == [
        ("pull", "GET", "v1")  # the HEAD is no pull
    ]
    assert not any(e["target"]["repository"] == other for e in receiver.events("/lib-pulls"))
    assert not any(e["action"] == "pull" for e in receiver.events("/all"))  # pulls are opt-in
    assert image.digest  # pushed for real


def test_a_failed_delivery_is_retried_with_the_same_body(
    api: RegistryApi, receiver: WebhookReceiver
) -> None:
    source, target = unique_repo("src"), unique_repo("dst")
    digest = api.push_blob(source, b"mounted blob")
    reply = api.http.post(f"{api.uploads_path(target)}?mount={digest}&from={source}")
    assert reply.status == 201, str(reply)
    receiver.wait_for(lambda r: len(r.received("/flaky")) == 2, timeout=15)
    first, second = receiver.received("/flaky")
    assert first.body == second.body
    assert first.headers["X-Drift-Delivery"] == second.headers["X-Drift-Delivery"]
    (event,) = second.events
    assert event["action"] == "mount"
    assert event["target"]["fromRepository"] == source
    assert event["target"]["repository"] == target
    assert "X-Drift-Signature" not in second.headers  # that endpoint has no secret


def timed_pushes(api: RegistryApi, count: int, prefix: str) -> float:
    started = time.perf_counter()
    for index in range(count):
        api.push_image(unique_repo(prefix), f"v{index}", layers=2)
    return time.perf_counter() - started


def test_dead_and_hanging_receivers_do_not_slow_pushes(tmp_path: Path) -> None:
    dead_port = free_port()  # nobody listens there
    with WebhookReceiver(hang=True) as hanging:
        dead_env = endpoints_env(
            {"url": f"http://127.0.0.1:{dead_port}/hook"},
            {"url": hanging.url("/hang/private-token"), "timeout": 60},
            queue_size="3",
        )
        off_env = {"DRIFT_AUDIT_ENABLED": "false"}
        with (
            start_drift(tmp_path / "dead", env=dead_env) as dead,
            start_drift(tmp_path / "off", env=off_env) as off,
            HttpClient(dead.url) as dead_http,
            HttpClient(off.url) as off_http,
        ):
            dead_api, off_api = RegistryApi(dead_http), RegistryApi(off_http)
            timed_pushes(off_api, 1, "warm")
            timed_pushes(dead_api, 1, "warm")
            off_time = dead_time = 0.0
            for _ in range(4):  # interleaved, so that load on the machine hits both alike
                off_time += timed_pushes(off_api, 2, "off")
                dead_time += timed_pushes(dead_api, 2, "dead")
            hanging.wait_for(lambda r: len(r.received()) >= 1)
            assert dead.process.poll() is None
        log = dead.log_tail()
    assert dead_time < 2 * off_time + 0.5, (dead_time, off_time)
    assert "webhook queue for http://127.0.0.1:" in log  # the hanging endpoint's queue overflowed
    assert "private-token" not in log
    assert not (tmp_path / "off" / ".drift" / "audit.jsonl").exists()
