"""What SeaweedFS itself takes and gives on this machine: the ceiling of any registry on it.

A presigned PUT of the benchmark blob (sent with sendfile, like the registry pushes) and
presigned GETs on 1 and 8 streams (the pull reader of the registry pulls). A shared machine
drifts through a run, so the rounds are spread over it (``put`` before each push figure, ``get``
before each pull figure) and the best is reported.
"""

from __future__ import annotations

import time
from typing import Final
from urllib.parse import urlsplit

from tests.support.seaweedfs import BUCKET, SeaweedFS

from bench.blobs import TAIL_BYTES, BlobSource
from bench.phases import log
from bench.pull import pull
from bench.rawhttp import Connection, HttpError
from bench.report import Results

__all__ = ["SeaweedCeiling"]

KEY: Final = "bench-ceiling/blob"
_EXPIRES: Final = 3600


def _presigned(seaweedfs: SeaweedFS, method: str) -> tuple[str, int, str]:
    url = urlsplit(
        seaweedfs.client().generate_presigned_url(
            method, Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=_EXPIRES
        )
    )
    assert url.hostname is not None
    assert url.port is not None
    return url.hostname, url.port, f"{url.path}?{url.query}"


class SeaweedCeiling:
    def __init__(self, seaweedfs: SeaweedFS, source: BlobSource, results: Results) -> None:
        self._put = _presigned(seaweedfs, "put_object")
        self._get = _presigned(seaweedfs, "get_object")
        self._source = source
        self._results = results

    def _record(self, name: str, mb_per_s: float) -> None:
        title = f"SeaweedFS direct {name}, best round (MB/s)"
        self._results.ceiling[title] = max(self._results.ceiling.get(title, 0.0), mb_per_s)
        log(f"SeaweedFS direct {name}: {mb_per_s:,.0f} MB/s")

    def put(self) -> None:
        host, port, target = self._put
        blob = self._source.variant()
        with Connection(host, port) as conn:
            began = time.perf_counter()
            reply = conn.request("PUT", target, {}, blob.range(0, blob.size))
            seconds = time.perf_counter() - began
        if reply.status != 200:
            raise HttpError(f"SeaweedFS PUT: {reply.status} {reply.body[:300]!r}")
        self._record("PUT, presigned", blob.size / seconds / 1e6)

    def get(self, streams: int) -> None:
        host, port, target = self._get
        result = pull(host, port, target, streams, self._source.size + TAIL_BYTES)
        self._record(f"GET, {streams} stream(s)", result.mb_per_s)
