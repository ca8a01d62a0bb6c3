"""Which events the registry services emit, with which fields, driven through the dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drift.api.probes import ProbeHandlers
from drift.api.routes import build_handlers
from drift.config.settings import RegistrySettings, WebhookEndpoint, WebhookSettings
from drift.core.access import AllowAll
from drift.core.dispatch import Dispatcher
from drift.events.audit import AuditLog
from drift.events.bus import EventBus, current_request_info
from drift.events.envelope import EventSource
from drift.events.model import EventKind, RegistryEvent, RequestInfo
from drift.events.webhooks import WebhookDispatcher
from drift.registry.service import Registry
from drift.storage.inmemory import InMemoryDriver
from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, image_manifest
from tests.unit.test_core_dispatch import call, sha256


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[RegistryEvent, RequestInfo]] = []

    def wants(self, kind: EventKind) -> bool:
        del kind
        return True

    async def emit(self, event: RegistryEvent) -> None:
        self.seen.append((event, current_request_info()))

    def take(self) -> list[RegistryEvent]:
        events = [event for event, _ in self.seen]
        self.seen.clear()
        return events


def dispatcher_over(sink: Recorder | EventBus) -> Dispatcher:
    registry = Registry.create(InMemoryDriver(), b"k" * 32, RegistrySettings(), sink)
    return Dispatcher(build_handlers(registry, ProbeHandlers(registry)), AllowAll())


async def push_blob(dispatch: Dispatcher, repo: str, data: bytes) -> str:
    digest = sha256(data)
    response = await call(dispatch, "POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", data)
    assert response.status == 201
    return digest


async def push_image(dispatch: Dispatcher, repo: str, reference: str, seed: bytes) -> bytes:
    config, layer = b'{"seed":"%s"}' % seed, b"layer-" + seed
    await push_blob(dispatch, repo, config)
    await push_blob(dispatch, repo, layer)
    manifest = image_manifest(descriptor(OCI_CONFIG, config), [descriptor(OCI_LAYER, layer)])
    response = await call(
        dispatch,
        "PUT",
        f"/v2/{repo}/manifests/{reference}",
        manifest,
        {"Content-Type": OCI_MANIFEST, "User-Agent": "tester/1"},
    )
    assert response.status == 201
    return manifest


async def test_pushes_tags_mounts_pulls_and_deletes_are_reported() -> None:
    recorder = Recorder()
    dispatch = dispatcher_over(recorder)
    first = await push_image(dispatch, "team/app", "v1?tag=latest", b"1")
    events = recorder.take()
    assert [e.kind for e in events] == [
        EventKind.BLOB_PUSH,
        EventKind.BLOB_PUSH,
        EventKind.MANIFEST_PUSH,
        EventKind.TAG_SET,
        EventKind.TAG_SET,
    ]
    assert events[0].repository == "team/app"
    assert events[0].size == len(b'{"seed":"1"}')
    push = events[2]
    assert (push.digest, push.media_type, push.size) == (sha256(first), OCI_MANIFEST, len(first))
    assert push.tags == ("v1", "latest")
    assert [(e.tags, e.digest, e.previous) for e in events[3:]] == [
        (("v1",), sha256(first), None),
        (("latest",), sha256(first), None),
    ]

    await push_image(dispatch, "team/app", "v1", b"1")  # same content: no tag moved
    assert [e.kind for e in recorder.take()][-1] is EventKind.MANIFEST_PUSH
    second = await push_image(dispatch, "team/app", "v1", b"2")
    moved = recorder.take()[-1]
    assert (moved.kind, moved.tags) == (EventKind.TAG_SET, ("v1",))
    assert (moved.digest, moved.previous) == (sha256(second), sha256(first))

    layer = sha256(b"layer-1")
    mount = f"/v2/other/blobs/uploads/?mount={layer}&from=team/app"
    assert (await call(dispatch, "POST", mount)).status == 201
    (mounted,) = recorder.take()
    assert (mounted.kind, mounted.repository, mounted.source) == (
        EventKind.BLOB_MOUNT,
        "other",
        "team/app",
    )

    assert (await call(dispatch, "GET", "/v2/team/app/manifests/latest")).status == 200
    assert (await call(dispatch, "GET", f"/v2/other/blobs/{layer}")).status == 200
    pulls = recorder.seen[:]
    assert [(e.kind, e.tags, info.method) for e, info in pulls] == [
        (EventKind.MANIFEST_PULL, ("latest",), "GET"),
        (EventKind.BLOB_PULL, (), "GET"),
    ]
    assert pulls[0][1].host == "registry.test"
    recorder.take()

    assert (await call(dispatch, "DELETE", "/v2/team/app/manifests/latest")).status == 202
    assert (
        await call(dispatch, "DELETE", f"/v2/team/app/manifests/{sha256(second)}")
    ).status == 202
    assert (await call(dispatch, "DELETE", f"/v2/other/blobs/{layer}")).status == 202
    deletes = recorder.take()
    assert [(e.kind, e.digest, e.tags) for e in deletes] == [
        (EventKind.TAG_DELETE, sha256(first), ("latest",)),
        (EventKind.MANIFEST_DELETE, sha256(second), ("v1",)),
        (EventKind.BLOB_DELETE, layer, ()),
    ]


async def test_failed_operations_report_nothing() -> None:
    recorder = Recorder()
    dispatch = dispatcher_over(recorder)
    bad = await call(dispatch, "POST", f"/v2/r/blobs/uploads/?digest={sha256(b'x')}", b"y")
    assert bad.status == 400
    assert (await call(dispatch, "DELETE", "/v2/r/manifests/nope")).status == 404
    assert recorder.seen == []


@pytest.fixture
def bus(tmp_path: Path) -> EventBus:
    hooks = WebhookSettings(
        endpoints=(
            WebhookEndpoint("http://127.0.0.1:9/all", actions=("push", "pull", "delete")),
            WebhookEndpoint("http://127.0.0.1:9/lib", repositories=("lib/*",)),
        ),
        queue_size=2,
    )
    source = EventSource("node:5000", "instance")
    return EventBus(AuditLog(tmp_path / ".drift" / "audit.jsonl"), WebhookDispatcher(hooks, source))


async def test_the_bus_writes_audit_lines_and_queues_webhooks(bus: EventBus) -> None:
    assert bus.audit is not None
    bus.audit.prepare()  # senders not started: what the queues hold stays there
    try:
        dispatch = dispatcher_over(bus)
        await push_image(dispatch, "team/app", "v1", b"1")
        assert (await call(dispatch, "HEAD", "/v2/team/app/manifests/v1")).status == 200
        lines = bus.audit.path.read_bytes().splitlines()
        documents = [json.loads(line) for line in lines]
        assert [d["kind"] for d in documents] == [
            "blob.push",
            "blob.push",
            "manifest.push",
            "tag.set",
        ]
        manifest = documents[2]
        assert manifest["method"] == "PUT"
        assert manifest["useragent"] == "tester/1"
        assert manifest["result"] == "success"
        assert manifest["tag"] == "v1"
        assert manifest["time"].endswith("Z")
        everything, library = bus.webhooks.senders
        # 3 pushes for a queue of 2 (the HEAD is no pull): one dropped, counted.
        assert everything.stats.dropped == 1
        assert library.stats.dropped == 0  # team/app is not lib/*
    finally:
        await bus.close(grace=0)
