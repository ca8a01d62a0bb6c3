"""The workload: each figure measured round by round, the servers interleaved within a round."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from bench import report
from bench.blobs import Blob, BlobSource
from bench.headload import run_head_load
from bench.load import LoadError, LoadResult
from bench.procstat import cpu_seconds
from bench.pull import pull
from bench.registry_client import OCI_MANIFEST, RegistryClient, SeededImage
from bench.report import Figure, Results, Sample
from bench.settings import Settings
from bench.wrk import run_wrk

__all__ = ["REPO", "TAG_COUNT", "Endpoint", "Workload"]

REPO: Final = "bench/blobs"
TAG_COUNT: Final = 32
PARALLEL_STREAMS: Final = 8


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


Runner = Callable[[str, float, dict[str, str]], LoadResult]


@dataclass(frozen=True, slots=True)
class _RateCase:
    figure: Figure
    runner: Runner
    headers: dict[str, str]
    target: Callable[[SeededImage], str]


_RATE_CASES: Final = (
    _RateCase(
        report.MANIFEST_GET,
        run_wrk,
        {"Accept": OCI_MANIFEST},
        lambda image: f"/v2/{image.repo}/manifests/{image.tag}",
    ),
    _RateCase(
        report.BLOB_HEAD,
        run_head_load,
        {},
        lambda image: f"/v2/{image.repo}/blobs/{image.layer.digest}",
    ),
    _RateCase(report.TAGS_LIST, run_wrk, {}, lambda image: f"/v2/{image.repo}/tags/list"),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Workload:
    def __init__(
        self,
        settings: Settings,
        results: Results,
        source: BlobSource,
        registries: list[Endpoint],
        nginx: Endpoint | None,
    ) -> None:
        self.settings = settings
        self.results = results
        self.source = source
        self.registries = registries
        self.nginx = nginx
        self.clients = {r.name: RegistryClient(r.host, r.port, REPO) for r in registries}
        self.pull_blobs: dict[str, Blob] = {}
        self.images: dict[str, SeededImage] = {}
        # nginx (the machine's ceiling) is pulled beside the registries when there is one
        self.pulled = [*registries, *([] if nginx is None else [nginx])]
        self.pull_cpu: dict[str, float] = dict.fromkeys([e.name for e in self.pulled], 0.0)
        self.pulled_bytes = dict.fromkeys(self.pull_cpu, 0)

    def run(self) -> None:
        self.push(report.PUSH_MONOLITHIC, RegistryClient.push_monolithic)
        self.push(report.PUSH_CHUNKED, RegistryClient.push_chunked)
        self.seed()
        self.pull(report.PULL_ONE, 1)
        self.pull(report.PULL_EIGHT, PARALLEL_STREAMS)
        for name, cpu in self.pull_cpu.items():
            per_gb = cpu / self.pulled_bytes[name] * 1e9
            self.results.add(report.CPU_PER_GB, name, Sample(per_gb, {"cpu_s": cpu}))
        for case in _RATE_CASES:
            self.rate(case)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def _rounds(self, endpoints: list[Endpoint]) -> Iterator[tuple[int, Endpoint]]:
        """Every round visits every endpoint; the order rotates so no server is always first."""
        for round_no in range(self.settings.rounds):
            shift = round_no % len(endpoints)
            for endpoint in endpoints[shift:] + endpoints[:shift]:
                yield round_no, endpoint

    def _record(self, figure: Figure, round_no: int, endpoint: Endpoint, sample: Sample) -> None:
        self.results.add(figure, endpoint.name, sample)
        log(
            f"{figure.title:<28} round {round_no + 1}/{self.settings.rounds} "
            f"{endpoint.name:<9} {sample.value:>12,.1f} {figure.unit}"
        )

    def push(self, figure: Figure, method: Callable[[RegistryClient, Blob], None]) -> None:
        for round_no, endpoint in self._rounds(self.registries):
            client = self.clients[endpoint.name]
            blob = self.source.variant()
            os.sync()  # the previous push's dirty pages must not be written back on our clock
            cpu = cpu_seconds(endpoint.pid)
            began = time.perf_counter()
            method(client, blob)
            seconds = time.perf_counter() - began
            cpu = cpu_seconds(endpoint.pid) - cpu
            if client.blob_size(blob.digest) != blob.size:
                raise RuntimeError(f"{endpoint.name}: pushed blob has the wrong size")
            self.pull_blobs.setdefault(endpoint.name, blob)
            detail = {"seconds": seconds, "bytes": blob.size, "cpu_s": cpu}
            self._record(figure, round_no, endpoint, Sample(blob.size / seconds / 1e6, detail))

    def seed(self) -> None:
        """Check each registry serves its pull blob intact and give it an image with tags."""
        for endpoint in self.registries:
            client = self.clients[endpoint.name]
            blob = self.pull_blobs[endpoint.name]
            client.verify_blob(blob)
            self.images[endpoint.name] = client.seed_image(blob, TAG_COUNT)
        if self.nginx is not None:
            nginx = self.nginx
            pull(nginx.host, nginx.port, self._pull_target(nginx), 1, self.source.size)

    def _pull_target(self, endpoint: Endpoint) -> str:
        if endpoint is self.nginx:
            return f"/{self.source.path.name}"
        return f"/v2/{REPO}/blobs/{self.pull_blobs[endpoint.name].digest}"

    def pull(self, figure: Figure, streams: int) -> None:
        for round_no, endpoint in self._rounds(self.pulled):
            target = self._pull_target(endpoint)
            size = (
                self.source.size if endpoint is self.nginx else self.pull_blobs[endpoint.name].size
            )
            cpu = cpu_seconds(endpoint.pid)
            result = pull(endpoint.host, endpoint.port, target, streams, size)
            cpu = cpu_seconds(endpoint.pid) - cpu
            self.pull_cpu[endpoint.name] += cpu
            self.pulled_bytes[endpoint.name] += result.bytes
            detail = {
                "seconds": result.seconds,
                "bytes": result.bytes,
                "cpu_s": cpu,
                "redirected": result.redirected,
            }
            self._record(figure, round_no, endpoint, Sample(result.mb_per_s, detail))

    def rate(self, case: _RateCase) -> None:
        for round_no, endpoint in self._rounds(self.registries):
            url = endpoint.url + case.target(self.images[endpoint.name])
            result = case.runner(url, self.settings.wrk_seconds, case.headers)
            if result.non_2xx:
                raise LoadError(f"{endpoint.name}: {result.non_2xx} error responses from {url}")
            if result.socket_errors:
                log(f"warning: {endpoint.name}: {result.socket_errors} socket errors on {url}")
            detail = {
                "p50_ms": result.p50_ms,
                "p99_ms": result.p99_ms,
                "requests": result.requests,
                "socket_errors": result.socket_errors,
            }
            self._record(case.figure, round_no, endpoint, Sample(result.requests_per_s, detail))
