"""The audit trail of a real Drift process with two workers: one JSON line per push, tag change
and delete, with who, what, when and from where, and nothing secret."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.oci import OCI_MANIFEST
from tests.support.rawhttp import HttpClient
from tests.support.registry import PushedImage, RegistryApi, unique_repo
from tests.support.servers import free_port, start_drift

SERVER_SECRET = "server-secret-for-audit-0123"
HOOK_SECRET = "hook-secret-for-audit-0123"
CREDENTIALS = "Basic dXNlcjpzM2NyZXQ="  # user:s3cret
COMMON_KEYS = {"time", "id", "kind", "result", "actor", "addr", "request_id", "method"}


def push_one(url: str, repo: str) -> PushedImage:
    with HttpClient(url) as http:
        return RegistryApi(http).push_image(repo, "v1")


def test_one_line_per_push_tag_and_delete_with_two_workers(tmp_path: Path) -> None:
    env = {
        "DRIFT_SECRET": SERVER_SECRET,
        "DRIFT_WEBHOOKS_ENDPOINTS": json.dumps(
            [
                {
                    "url": f"http://127.0.0.1:{free_port()}/",
                    "secret": HOOK_SECRET,
                    "actions": ["pull"],
                }
            ]
        ),
    }
    root = tmp_path / "data"
    repos = [unique_repo("audit") for _ in range(4)]
    with start_drift(root, workers=2, env=env) as drift, HttpClient(drift.url) as http:
        with ThreadPoolExecutor(len(repos)) as pool:
            images = list(pool.map(lambda repo: push_one(drift.url, repo), repos))
        api = RegistryApi(http)
        first = images[0]
        second = api.push_image(first.repo, "v1", seed="second")  # moves v1
        reply = api.http.put(
            api.manifest_path(first.repo, "moved"),
            body=first.manifest,
            headers={"Content-Type": OCI_MANIFEST, "Authorization": CREDENTIALS},
        )
        assert reply.status == 201, str(reply)
        layer = next(digest for digest in first.blobs if digest != first.digest)
        for target in (
            api.manifest_path(first.repo, "moved"),
            api.manifest_path(first.repo, second.digest),
            api.blob_path(first.repo, layer),
        ):
            assert api.http.delete(target).status == 202
        assert len(drift.pids()) == 3  # the supervisor and both workers wrote

    text = (root / ".drift" / "audit.jsonl").read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert Counter(record["kind"] for record in records) == {
        "blob.push": 5 * 3,
        "manifest.push": 5 + 1,
        "tag.set": 5 + 1,
        "tag.delete": 1,
        "manifest.delete": 1,
        "blob.delete": 1,
    }
    assert len({record["id"] for record in records}) == len(records)
    for record in records:
        assert set(record) >= COMMON_KEYS, record
        when = dt.datetime.fromisoformat(record["time"])
        assert when.utcoffset() == dt.timedelta(0)
        assert abs(dt.datetime.now(dt.UTC) - when) < dt.timedelta(minutes=5)
        assert record["result"] == "success"
        assert record["actor"] is None  # anonymous access
        assert record["addr"].startswith("127.0.0.1")
        assert record["repository"] in repos

    def only(kind: str, **fields: object) -> dict[str, object]:
        (found,) = [
            r for r in records if r["kind"] == kind and all(r[k] == v for k, v in fields.items())
        ]
        return found

    for image in images:
        push = only("manifest.push", repository=image.repo, digest=image.digest, tag="v1")
        assert (push["method"], push["tag"], push["size"]) == ("PUT", "v1", len(image.manifest))
        assert push["media_type"] == OCI_MANIFEST
    moved = only("tag.set", repository=first.repo, digest=second.digest)
    assert (moved["tag"], moved["previous"]) == ("v1", first.digest)
    assert only("tag.delete", tag="moved")["digest"] == first.digest
    deleted = only("manifest.delete", digest=second.digest)
    assert (deleted["tag"], deleted["method"]) == ("v1", "DELETE")
    assert only("blob.delete", digest=layer)["repository"] == first.repo

    for secret in (SERVER_SECRET, HOOK_SECRET, CREDENTIALS, CREDENTIALS.split()[1], "_state"):
        assert secret not in text
