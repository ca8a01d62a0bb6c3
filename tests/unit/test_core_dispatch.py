"""The transport-neutral core driven directly, without sockets, over the in-memory driver."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from drift.api.probes import ProbeHandlers
from drift.api.routes import build_handlers
from drift.config.settings import RegistrySettings
from drift.core.access import AllowAll
from drift.core.dispatch import Dispatcher
from drift.core.http import BodyIncompleteError, Request, Response, StreamBody
from drift.registry.service import Registry
from drift.storage.inmemory import InMemoryDriver

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class _Body:
    def __init__(self, data: bytes, cut: bool = False) -> None:
        self._data = data
        self._cut = cut

    async def read(self, max_bytes: int) -> bytes:
        if not self._data and self._cut:
            raise BodyIncompleteError("client went away")
        chunk, self._data = self._data[:max_bytes], self._data[max_bytes:]
        return chunk


@pytest.fixture
def dispatch() -> Dispatcher:
    registry = Registry.create(InMemoryDriver(), b"k" * 32, RegistrySettings())
    return Dispatcher(build_handlers(registry, ProbeHandlers(registry)), AllowAll())


async def call(
    dispatch: Dispatcher,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    cut: bool = False,
) -> Response:
    path, _, query = target.partition("?")
    pairs = [tuple(item.split("=", 1)) for item in query.split("&") if item]
    request = Request(
        method=method,
        path=path,
        query=MultiDictProxy(MultiDict(pairs)),
        headers=CIMultiDictProxy(CIMultiDict(headers or {})),
        body=_Body(body, cut),
        scheme="http",
        host="registry.test",
    )
    return await dispatch(request)


async def content(response: Response) -> bytes:
    body = response.body
    if isinstance(body, bytes):
        return body
    assert isinstance(body, StreamBody)
    chunks: AsyncIterator[bytes] = body.chunks
    return b"".join([chunk async for chunk in chunks])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error_code(response: Response) -> str:
    assert isinstance(response.body, bytes)
    return str(orjson.loads(response.body)["errors"][0]["code"])


async def test_monolithic_push_then_pull_and_range(dispatch: Dispatcher) -> None:
    data = bytes(range(256)) * 4096
    pushed = await call(dispatch, "POST", f"/v2/a/b/blobs/uploads/?digest={sha256(data)}", data)
    assert pushed.status == 201
    assert pushed.headers["Location"] == f"http://registry.test/v2/a/b/blobs/{sha256(data)}"
    pulled = await call(dispatch, "GET", f"/v2/a/b/blobs/{sha256(data)}")
    assert pulled.status == 200
    assert await content(pulled) == data
    ranged = await call(
        dispatch, "GET", f"/v2/a/b/blobs/{sha256(data)}", headers={"Range": "bytes=10-19"}
    )
    assert ranged.status == 206
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert await content(ranged) == data[10:20]
    other_repo = await call(dispatch, "HEAD", f"/v2/other/blobs/{sha256(data)}")
    assert other_repo.status == 404


async def test_chunked_upload_resumes_after_cut_body(dispatch: Dispatcher) -> None:
    data = b"x" * 3_000_000 + b"y" * 1_000
    started = await call(dispatch, "POST", "/v2/repo/blobs/uploads/")
    assert started.status == 202
    location = started.headers["Location"].removeprefix("http://registry.test")
    first = await call(dispatch, "PATCH", location, data[:1_000_000], cut=True)
    assert first.status == 400
    assert first.headers["Range"] == "0-999999"
    status = await call(dispatch, "GET", location)
    assert (status.status, status.headers["Range"]) == (204, "0-999999")
    out_of_order = await call(
        dispatch, "PATCH", location, data[5:10], headers={"Content-Range": "5-9"}
    )
    assert out_of_order.status == 416
    rest = await call(
        dispatch,
        "PATCH",
        location,
        data[1_000_000:],
        headers={"Content-Range": f"1000000-{len(data) - 1}"},
    )
    assert rest.status == 202
    location = rest.headers["Location"].removeprefix("http://registry.test")
    done = await call(dispatch, "PUT", f"{location}&digest={sha256(data)}")
    assert done.status == 201
    assert await content(await call(dispatch, "GET", f"/v2/repo/blobs/{sha256(data)}")) == data


async def test_wrong_digest_stores_nothing(dispatch: Dispatcher) -> None:
    reply = await call(dispatch, "POST", f"/v2/r/blobs/uploads/?digest={sha256(b'other')}", b"abc")
    assert (reply.status, error_code(reply)) == (400, "DIGEST_INVALID")
    assert (await call(dispatch, "HEAD", f"/v2/r/blobs/{sha256(b'abc')}")).status == 404


async def test_manifest_round_trip_tags_and_referrers(dispatch: Dispatcher) -> None:
    config = b"{}"
    await call(dispatch, "POST", f"/v2/app/blobs/uploads/?digest={sha256(config)}", config)
    descriptor = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(config)}
    image = orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {**descriptor, "size": 2},
            "layers": [],
        }
    )
    put = await call(dispatch, "PUT", "/v2/app/manifests/v1", image, {"Content-Type": OCI_MANIFEST})
    assert put.status == 201
    signature = orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sig",
            "config": {**descriptor, "size": 2},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": sha256(image), "size": len(image)},
            "annotations": {"k": "v"},
        }
    )
    referrer = await call(
        dispatch,
        "PUT",
        f"/v2/app/manifests/{sha256(signature)}?tag=sig&tag=sig2",
        signature,
        {"Content-Type": OCI_MANIFEST},
    )
    assert referrer.headers["OCI-Subject"] == sha256(image)
    assert referrer.headers.getall("OCI-Tag") == ["sig", "sig2"]
    listing = await call(dispatch, "GET", f"/v2/app/referrers/{sha256(image)}")
    index = orjson.loads(await content(listing))
    assert index["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": sha256(signature),
            "size": len(signature),
            "artifactType": "application/vnd.example.sig",
            "annotations": {"k": "v"},
        }
    ]
    tags = orjson.loads(await content(await call(dispatch, "GET", "/v2/app/tags/list")))
    assert tags == {"name": "app", "tags": ["sig", "sig2", "v1"]}
    deleted = await call(dispatch, "DELETE", f"/v2/app/manifests/{sha256(signature)}")
    assert deleted.status == 202
    tags = orjson.loads(await content(await call(dispatch, "GET", "/v2/app/tags/list")))
    assert tags["tags"] == ["v1"]
    listing = await call(dispatch, "GET", f"/v2/app/referrers/{sha256(image)}")
    assert orjson.loads(await content(listing))["manifests"] == []


@pytest.mark.parametrize(
    ("method", "target", "status", "code"),
    [
        ("GET", "/v2/UPPER/tags/list", 400, "NAME_INVALID"),
        ("GET", "/v2/a/../b/tags/list", 400, "NAME_INVALID"),
        ("GET", "/v2/nothing/tags/list", 404, "NAME_UNKNOWN"),
        ("GET", "/v2/a/blobs/sha256:abc", 400, "DIGEST_INVALID"),
        ("GET", "/v2/a/manifests/-bad", 400, "TAG_INVALID"),
        ("GET", "/v2/a/referrers/md5:00", 400, "DIGEST_INVALID"),
        ("PUT", "/v2/a/blobs/sha256:" + "0" * 64, 405, "UNSUPPORTED"),
        ("GET", "/v3/", 404, "UNSUPPORTED"),
        ("PATCH", "/v2/a/blobs/uploads/not-a-uuid", 404, "BLOB_UPLOAD_UNKNOWN"),
        ("GET", "/v2/a/tags/list?n=-1", 400, "PAGINATION_NUMBER_INVALID"),
    ],
)
async def test_errors_use_the_envelope(
    dispatch: Dispatcher, method: str, target: str, status: int, code: str
) -> None:
    reply = await call(dispatch, method, target)
    assert (reply.status, error_code(reply)) == (status, code)
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"
