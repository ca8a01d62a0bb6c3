"""Server memory while several large uploads stream at once: what one upload costs.

The server's process tree is sampled (RSS and PSS of every process, every 50 ms) for a second
while idle, then through ``count`` concurrent monolithic uploads (POST, then one PUT with the
whole blob streamed by sendfile). What an upload costs is the peak above the idle level, over
the number of uploads; Drift's S3 writer should hold about one part (``part_size``) per upload.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final

from bench.blobs import BlobSource
from bench.phases import Endpoint
from bench.procstat import RssPeak, RssSampler
from bench.registry_client import RegistryClient

__all__ = ["UPLOADS", "UploadMemory", "measure_upload_memory"]

UPLOADS: Final = 8
REPO: Final = "bench/concurrent"
_IDLE_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class UploadMemory:
    uploads: int
    bytes_each: int
    seconds: float
    idle: RssPeak
    busy: RssPeak

    @property
    def rss_per_upload(self) -> float:
        return max(0, self.busy.total_bytes - self.idle.total_bytes) / self.uploads

    @property
    def pss_per_upload(self) -> float:
        return max(0, self.busy.pss_total_bytes - self.idle.pss_total_bytes) / self.uploads

    @property
    def mb_per_s(self) -> float:
        return self.uploads * self.bytes_each / self.seconds / 1e6


def _sampled(endpoint: Endpoint) -> RssSampler:
    sampler = RssSampler()
    sampler.watch(endpoint.name, endpoint.pid)
    sampler.start()
    return sampler


def measure_upload_memory(
    endpoint: Endpoint, source: BlobSource, count: int = UPLOADS
) -> UploadMemory:
    idle_sampler = _sampled(endpoint)
    time.sleep(_IDLE_SECONDS)
    idle = idle_sampler.stop()[endpoint.name]

    blobs = [source.variant() for _ in range(count)]
    clients = [RegistryClient(endpoint.host, endpoint.port, REPO) for _ in blobs]
    errors: list[BaseException] = []
    start = threading.Barrier(count + 1)

    def upload(client: RegistryClient, index: int) -> None:
        try:
            start.wait()
            client.push_monolithic(blobs[index])
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=upload, args=(client, index), daemon=True)
        for index, client in enumerate(clients)
    ]
    sampler = _sampled(endpoint)
    try:
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
    finally:
        busy = sampler.stop()[endpoint.name]
    try:
        if errors:
            raise RuntimeError(f"{endpoint.name}: concurrent upload failed: {errors[0]}")
        for client, blob in zip(clients, blobs, strict=True):
            if client.blob_size(blob.digest) != blob.size:
                raise RuntimeError(f"{endpoint.name}: an uploaded blob has the wrong size")
    finally:
        for client in clients:
            client.close()
    return UploadMemory(count, source.size, seconds, idle, busy)
