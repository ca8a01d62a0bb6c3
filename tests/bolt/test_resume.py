"""A download cut short by a stream reset resumes from the bytes already on disk (``Range``),
once; a registry that keeps resetting is a one-line failure. The registry here is Drift's own
HTTP/3 listener in this process, serving a handler that resets the first blob responses half-way
(what ``drift serve`` does when a blob file shrinks under it) and records every request."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drift.bolt import (
    ConnectionOptions,
    Endpoint,
    Progress,
    PullError,
    PullOptions,
    Trust,
    parse_reference,
    pull_image,
)
from drift.core.http import Request, Response, StreamBody
from tests.bolt.pulling import assert_layout_holds
from tests.quic.inprocess import ListenerThread
from tests.support.images import Image, build_image

LAYER = 3 * 1024 * 1024
CUT = 1024 * 1024 + 17
_RANGE = re.compile(r"bytes=(\d+)-")


class CuttingRegistry:
    """Serves ``image`` under ``repo:tag``; the first ``resets`` GETs of its largest layer stop
    after ``CUT`` bytes, and the stream is reset."""

    def __init__(self, image: Image, resets: int) -> None:
        self.image = image
        self.resets = resets
        self.layer = max(image.layers, key=lambda blob: len(blob.data))
        self.blob_requests: list[str | None] = []  # the Range header of each GET of the layer

    async def __call__(self, request: Request) -> Response:
        if request.path.endswith("/manifests/v1"):
            manifest = self.image.manifest
            return Response.data(200, manifest.data, manifest.media_type)
        for blob in self.image.blobs:
            if request.path.endswith(f"/blobs/{blob.digest}"):
                return self._blob(request, blob.digest, blob.data)
        return Response.empty(404)

    def _blob(self, request: Request, digest: str, data: bytes) -> Response:
        if digest != self.layer.digest:
            return Response.data(200, data, "application/octet-stream")
        header = request.headers.get("Range")
        self.blob_requests.append(header)
        start = int(match.group(1)) if header and (match := _RANGE.fullmatch(header)) else 0
        response = Response(206 if start else 200)
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response.headers["Content-Length"] = str(len(data) - start)
        if self.resets > 0:
            self.resets -= 1
            response.body = StreamBody(_cut_short(data[start : start + CUT]), len(data) - start)
        else:
            response.body = data[start:]
        return response


async def _cut_short(part: bytes) -> AsyncIterator[bytes]:
    yield part
    await asyncio.sleep(0.3)  # the part reaches the client before the stream is reset


def pull(registry: CuttingRegistry, output: Path) -> None:
    """Pull ``cut/image:v1`` from ``registry`` behind Drift's HTTP/3 listener; the progress
    lines go to ``progress.log`` next to ``output``."""
    with ListenerThread(registry, output.parent / "quic") as listener:
        pin = f"sha256/{listener.certificate.pin}"
        connection = ConnectionOptions(trust=Trust.from_options(None, pin, False))
        reference = parse_reference(f"127.0.0.1:{listener.port}/cut/image:v1")
        endpoint = Endpoint("127.0.0.1", listener.port)
        with (output.parent / "progress.log").open("w") as log:
            progress = Progress(log)
            asyncio.run(
                pull_image(reference, endpoint, PullOptions(output, 4, connection), progress)
            )


def test_a_reset_download_resumes_where_it_stopped(rng: random.Random, tmp_path: Path) -> None:
    image = build_image(rng, layer_sizes=(LAYER, 64 * 1024))
    registry = CuttingRegistry(image, resets=1)

    pull(registry, tmp_path / "layout")

    assert registry.blob_requests == [None, f"bytes={CUT}-"]
    assert_layout_holds(tmp_path / "layout", image, "v1")
    progress = (tmp_path / "progress.log").read_text()
    assert f"stream reset by the registry (H3_INTERNAL_ERROR); resuming at byte {CUT}" in progress


def test_a_second_reset_fails_the_pull_in_one_line(rng: random.Random, tmp_path: Path) -> None:
    image = build_image(rng, layer_sizes=(LAYER,))
    registry = CuttingRegistry(image, resets=2)

    with pytest.raises(PullError) as raised:
        pull(registry, tmp_path / "layout")

    assert registry.blob_requests == [None, f"bytes={CUT}-"]
    assert str(raised.value) == (
        f"blob {registry.layer.digest}: stream reset by the registry (H3_INTERNAL_ERROR) "
        "(after one retry)"
    )
    assert not (tmp_path / "layout" / "index.json").exists()
    assert not list((tmp_path / "layout").rglob(registry.layer.digest[7:]))
