"""`python -m bench.run --s3`: Drift against the reference registry on one SeaweedFS.

Starts SeaweedFS and, on one prefix of its bucket each, Drift and CNCF distribution 2.8 with its
S3 driver, each as a proxied and a redirecting process (``servers``). Measures SeaweedFS alone
(the ceiling), pushes (monolithic and chunked) and pulls (proxied and redirect; 1 and 8
streams) with the servers interleaved round by round as in the filesystem benchmark
(``bench.phases``), then each server's memory through 8 concurrent uploads (``memory``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.servers import RunningRegistry

from bench.blobs import BlobSource
from bench.phases import PARALLEL_STREAMS, Endpoint, Workload, log
from bench.registry_client import RegistryClient
from bench.report import DRIFT, Results, Sample
from bench.s3 import figures
from bench.s3.ceiling import CHUNKED_PATTERN, SeaweedCeiling, ceiling_title
from bench.s3.memory import UPLOADS, measure_upload_memory
from bench.s3.servers import Mode, S3Servers, start_s3_servers
from bench.settings import Settings, parse_size
from drift.config.settings import S3Settings

__all__ = ["print_s3", "run_s3"]

assert figures.STREAMS[-1] == PARALLEL_STREAMS


def drift_part_size(settings: Settings) -> int:
    configured = settings.drift_env.get("DRIFT_S3_PART_SIZE")
    return parse_size(configured) if configured else S3Settings().part_size


def _endpoint(registry: RunningRegistry) -> Endpoint:
    host, _, port = registry.host_port.rpartition(":")
    return Endpoint(registry.name, host, int(port), registry.process.pid)


def run_s3(settings: Settings, results: Results, scratch: Path) -> None:
    source = BlobSource(scratch / "www" / "blob", settings.size)
    with start_s3_servers(settings, scratch) as servers:
        try:
            _measure(settings, results, source, servers)
        except BaseException:
            for registry in servers.registries.values():
                if registry.process.poll() is not None:
                    log(f"{registry.name} exited during the run; log tail:\n{registry.log_tail()}")
            raise


def _measure(settings: Settings, results: Results, source: BlobSource, servers: S3Servers) -> None:
    ceiling = SeaweedCeiling(servers.seaweedfs, source, results)
    ceiling.put()  # the blob that every presigned GET reads
    workloads = {
        mode: Workload(
            settings,
            results,
            source,
            [_endpoint(servers.registry(name, mode)) for name in settings.servers],
            None,
        )
        for mode in Mode
    }
    pushes = workloads[Mode.PROXIED]
    try:
        pushes.push(figures.PUSH_MONOLITHIC, RegistryClient.push_monolithic)
        ceiling.chunked()
        pushes.push(figures.PUSH_CHUNKED, RegistryClient.push_chunked)
        ceiling.chunked()
        for name, blob in pushes.pull_blobs.items():
            pushes.clients[name].verify_blob(blob)
        workloads[Mode.REDIRECT].pull_blobs = pushes.pull_blobs  # one store per registry
        for streams in figures.STREAMS:
            for mode, workload in workloads.items():
                ceiling.get(streams)
                workload.pull(figures.PULL[(mode, streams)], streams)
        for mode, workload in workloads.items():
            for name, cpu in workload.pull_cpu.items():
                per_gb = cpu / workload.pulled_bytes[name] * 1e9
                results.add(figures.PULL_CPU[mode], name, Sample(per_gb, {"cpu_s": cpu}))
    finally:
        for workload in workloads.values():
            workload.close()
    part_size = drift_part_size(settings)
    for endpoint in pushes.registries:
        memory = measure_upload_memory(endpoint, source, UPLOADS)
        log(
            f"{endpoint.name}: {UPLOADS} concurrent uploads at {memory.mb_per_s:,.0f} MB/s, "
            f"{memory.rss_per_upload / 1e6:,.1f} MB RSS per upload"
        )
        detail = {"seconds": memory.seconds, "idle_rss": memory.idle.total_bytes}
        results.add(figures.CONCURRENT_PUSH, endpoint.name, Sample(memory.mb_per_s, detail))
        results.add(figures.UPLOAD_RSS, endpoint.name, Sample(memory.rss_per_upload / 1e6))
        results.add(figures.UPLOAD_PSS, endpoint.name, Sample(memory.pss_per_upload / 1e6))
        if endpoint.name == DRIFT:
            parts = memory.rss_per_upload / part_size
            results.add(figures.UPLOAD_PARTS, DRIFT, Sample(parts, {"part_size": part_size}))
    ceiling.put()


def _redirect_notes(results: Results, settings: Settings) -> list[str]:
    notes = []
    for streams in figures.STREAMS:
        figure = figures.PULL[(Mode.REDIRECT, streams)]
        for name in settings.servers:
            sample = results.picked(figure, name)
            if sample is not None and not sample.detail.get("redirected"):
                notes.append(f"note: {name} answered '{figure.title}' itself (no redirect)")
    return notes


def _chunked_shares(results: Results, settings: Settings) -> str:
    """Each registry's chunked push as a share of SeaweedFS's chunked push pattern."""
    pattern = results.ceiling.get(ceiling_title(CHUNKED_PATTERN))
    shares = []
    for name in settings.servers:
        sample = results.picked(figures.PUSH_CHUNKED, name)
        if pattern and sample is not None:
            shares.append(f"{name} {sample.value / pattern:.0%}")
    return f"push chunked, share of the chunked push pattern: {', '.join(shares) or '-'}"


def print_s3(settings: Settings, results: Results, load_at_start: float) -> None:
    part_size = drift_part_size(settings)
    print(
        f"\nS3 mode: Drift ({settings.workers} workers, part_size {part_size >> 20} MiB) vs "
        "reference (CNCF distribution 2.8, S3 driver) on one SeaweedFS, "
        f"{settings.size / (1 << 20):g} MiB blobs, {settings.rounds} interleaved rounds, "
        f"{settings.pick} round reported; memory: {UPLOADS} concurrent uploads; MB = 10^6 bytes\n"
    )
    print(results.summary_table(figures.s3_figures()))
    for note in _redirect_notes(results, settings):
        print(note)
    print("\nSeaweedFS alone (the ceiling of any registry on it):")
    print(results.ceiling_lines())
    print(_chunked_shares(results, settings))
    load_at_end = os.getloadavg()[0]
    print(
        f"\nload average (1 min): {load_at_start:.2f} at the start, {load_at_end:.2f} at the end "
        f"({os.cpu_count()} CPUs shared by clients, servers and SeaweedFS)"
    )
