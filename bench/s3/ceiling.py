"""What SeaweedFS itself takes and gives on this machine: the ceiling of any registry on it.

A presigned PUT of the benchmark blob (sent with sendfile, like the registry pushes),
presigned GETs on 1 and 8 streams (the pull reader of the registry pulls), and the pattern of a
chunked push (``chunked``): what SeaweedFS must do for a registry that keeps no upload bytes
of its own. A shared machine drifts through a run, so the rounds are spread over it (``put``
and ``chunked`` before the push figures, ``get`` before each pull figure) and the best is
reported.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final
from urllib.parse import urlsplit

from tests.support.seaweedfs import BUCKET, SeaweedFS

from bench.blobs import TAIL_BYTES, BlobRange, BlobSource
from bench.phases import log
from bench.pull import pull
from bench.rawhttp import Connection, HttpError
from bench.registry_client import CHUNK_BYTES
from bench.report import Results

__all__ = ["CHUNKED_PATTERN", "SeaweedCeiling", "ceiling_title"]

KEY: Final = "bench-ceiling/blob"
_PIECES: Final = "bench-ceiling/pieces/"
_COPIES_AT_ONCE: Final = 8  # as Drift's multipart copies
_EXPIRES: Final = 3600
CHUNKED_PATTERN: Final = (
    f"chunked push pattern ({CHUNK_BYTES >> 20} MiB PUTs in turn, then a server-side copy)"
)


def ceiling_title(name: str) -> str:
    """The title of a SeaweedFS figure in ``Results.ceiling``."""
    return f"SeaweedFS direct {name}, best round (MB/s)"


def _presigned(client: Any, method: str, key: str = KEY) -> tuple[str, int, str]:
    url = urlsplit(
        client.generate_presigned_url(
            method, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=_EXPIRES
        )
    )
    assert url.hostname is not None
    assert url.port is not None
    return url.hostname, url.port, f"{url.path}?{url.query}"


def _put(presigned: tuple[str, int, str], body: BlobRange) -> None:
    host, port, target = presigned
    with Connection(host, port) as conn:
        reply = conn.request("PUT", target, {}, body)
    if reply.status != 200:
        raise HttpError(f"SeaweedFS PUT: {reply.status} {reply.body[:300]!r}")


class SeaweedCeiling:
    def __init__(self, seaweedfs: SeaweedFS, source: BlobSource, results: Results) -> None:
        self._client = seaweedfs.client()
        self._put = _presigned(self._client, "put_object")
        self._get = _presigned(self._client, "get_object")
        self._source = source
        self._results = results

    def _record(self, name: str, mb_per_s: float) -> None:
        title = ceiling_title(name)
        self._results.ceiling[title] = max(self._results.ceiling.get(title, 0.0), mb_per_s)
        log(f"SeaweedFS direct {name}: {mb_per_s:,.0f} MB/s")

    def put(self) -> None:
        blob = self._source.variant()
        began = time.perf_counter()
        _put(self._put, blob.range(0, blob.size))
        self._record("PUT, presigned", blob.size / (time.perf_counter() - began) / 1e6)

    def chunked(self) -> None:
        """A chunked push without the registry: each chunk PUT as an object of its own, one
        after the other (a PATCH is answered once its bytes are stored), then one multipart
        upload copies them into a single object server-side (the digest, hence the blob's key,
        is known only at the end). The time of both is the ceiling of such a registry."""
        chunk = CHUNK_BYTES
        blob = self._source.variant()
        pieces = [
            (f"{_PIECES}{start:016x}", start, min(start + chunk, blob.size))
            for start in range(0, blob.size, chunk)
        ]
        began = time.perf_counter()
        for key, start, end in pieces:
            _put(_presigned(self._client, "put_object", key), blob.range(start, end))
        self._copy([key for key, _, _ in pieces], KEY)
        seconds = time.perf_counter() - began
        self._client.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": key} for key, _, _ in pieces]}
        )
        self._record(CHUNKED_PATTERN, blob.size / seconds / 1e6)

    def _copy(self, sources: list[str], dest: str) -> None:
        upload = self._client.create_multipart_upload(Bucket=BUCKET, Key=dest)["UploadId"]

        def copy_part(number: int) -> dict[str, Any]:
            reply = self._client.upload_part_copy(
                Bucket=BUCKET,
                Key=dest,
                UploadId=upload,
                PartNumber=number,
                CopySource={"Bucket": BUCKET, "Key": sources[number - 1]},
            )
            return {"PartNumber": number, "ETag": reply["CopyPartResult"]["ETag"]}

        with ThreadPoolExecutor(_COPIES_AT_ONCE) as pool:
            parts = list(pool.map(copy_part, range(1, len(sources) + 1)))
        self._client.complete_multipart_upload(
            Bucket=BUCKET, Key=dest, UploadId=upload, MultipartUpload={"Parts": parts}
        )

    def get(self, streams: int) -> None:
        host, port, target = self._get
        result = pull(host, port, target, streams, self._source.size + TAIL_BYTES)
        self._record(f"GET, {streams} stream(s)", result.mb_per_s)
