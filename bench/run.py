"""`python -m bench.run`: Drift against the reference registry on loopback, with the ceiling.

Starts Drift and CNCF distribution (Debian's docker-registry) on fresh filesystem stores, and
nginx serving the same file with sendfile; runs the workload of bench.phases against all of them,
interleaved; prints the table of figures, ratios and targets. ``--s3`` runs both on one
SeaweedFS instead (bench.s3.run); ``--h3`` measures Drift's HTTP/3 listener against a minimal
aioquic server instead (bench.h3.run).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.support.servers import RunningRegistry, free_port, start_drift, start_reference

from bench import report
from bench.blobs import BlobSource, durable_write_mb_per_s, sha256_mb_per_s
from bench.h3.run import h3_figure_list, print_h3, run_h3
from bench.nginx import start_nginx
from bench.overhead import run_ops_overhead
from bench.phases import Endpoint, Workload, log
from bench.procstat import RssSampler
from bench.report import DRIFT, FIGURES, NGINX, Figure, Results, Sample
from bench.s3.figures import s3_figures
from bench.s3.run import print_s3, run_s3
from bench.settings import Settings, parse_settings

__all__ = ["main"]


def _start_registry(settings: Settings, name: str, scratch: Path) -> RunningRegistry:
    root = scratch / f"{name}-store"
    log_path = scratch / f"{name}.log"
    if name == DRIFT:
        return start_drift(
            root, workers=settings.workers, env=settings.drift_env, log_path=log_path
        )
    return start_reference(root, log_path=log_path)


def _endpoint(registry: RunningRegistry) -> Endpoint:
    host, _, port = registry.host_port.rpartition(":")
    return Endpoint(registry.name, host, int(port), registry.process.pid)


def _measure_sha256(settings: Settings, results: Results) -> None:
    best = max(sha256_mb_per_s(settings.sha_bytes) for _ in range(settings.rounds))
    results.ceiling["sha256, one core (MB/s)"] = best
    log(f"sha256 of one core: {best:,.0f} MB/s")


def _measure_disk(settings: Settings, results: Results, scratch: Path) -> None:
    target = scratch / "durable-write"
    best = max(durable_write_mb_per_s(target, settings.size) for _ in range(settings.rounds))
    results.ceiling["durable disk write, write + fdatasync (MB/s)"] = best
    log(f"durable disk write: {best:,.0f} MB/s")


def _add_ceiling(results: Results) -> None:
    for figure in (report.PULL_ONE, report.PULL_EIGHT):
        value = results.value(figure, NGINX)
        if value is not None:
            results.ceiling[f"nginx sendfile, {figure.title} (MB/s)"] = value


def _machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release()}


def _report_dead(running: list[RunningRegistry]) -> None:
    for registry in running:
        status = registry.process.poll()
        if status is not None:
            log(f"{registry.name} exited with status {status} during the run; log tail:")
            log(registry.log_tail())


def _run(settings: Settings, results: Results, scratch: Path) -> None:
    _measure_sha256(settings, results)
    _measure_disk(settings, results, scratch)
    source = BlobSource(scratch / "www" / "blob", settings.size)
    sampler = RssSampler()
    with contextlib.ExitStack() as stack:
        running = [
            stack.enter_context(_start_registry(settings, name, scratch))
            for name in settings.servers
        ]
        registries = [_endpoint(registry) for registry in running]
        nginx = stack.enter_context(start_nginx(scratch / "nginx", source.path.parent, free_port()))
        nginx_endpoint = Endpoint(NGINX, nginx.host, nginx.port, nginx.process.pid)
        for endpoint in [*registries, nginx_endpoint]:
            sampler.watch(endpoint.name, endpoint.pid)
        sampler.start()
        workload = Workload(settings, results, source, registries, nginx_endpoint)
        stack.callback(workload.close)
        try:
            workload.run()
        except BaseException:
            _report_dead(running)
            raise
        finally:
            peaks = sampler.stop()
    for name, peak in peaks.items():
        results.add(report.RSS_TOTAL, name, Sample(peak.total_bytes / 1e6))
        results.add(report.PSS_TOTAL, name, Sample(peak.pss_total_bytes / 1e6))
        results.add(report.RSS_LARGEST, name, Sample(peak.largest_process_bytes / 1e6))
    _add_ceiling(results)


def _print(settings: Settings, results: Results) -> None:
    print(
        f"\nDrift ({settings.workers} workers) vs reference (CNCF distribution), "
        f"{settings.size / (1 << 20):g} MiB blobs, {settings.rounds} interleaved rounds, "
        f"{settings.pick} round reported; MB = 10^6 bytes\n"
    )
    print(results.summary_table())
    print()
    print(results.latency_table())
    print("(GETs by wrk; blob HEAD by bench.headload, as wrk 4.1 cannot measure HEAD)")
    print("\nMachine ceiling:")
    print(results.ceiling_lines())


def _figures(settings: Settings) -> Sequence[Figure]:
    if settings.h3:
        return h3_figure_list(settings)
    return s3_figures() if settings.s3 else FIGURES


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_settings(argv)
    results = Results(settings.pick)
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="drift-bench-", dir=settings.tmp_dir))
    load_at_start = os.getloadavg()[0]
    try:
        if settings.ops_overhead:
            run_ops_overhead(settings, scratch)
            return 0
        if settings.h3:
            run_h3(settings, results, scratch)
        elif settings.s3:
            run_s3(settings, results, scratch)
        else:
            _run(settings, results, scratch)
    finally:
        if settings.keep:
            log(f"scratch directory kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if settings.h3:
        print_h3(settings, results, load_at_start)
    elif settings.s3:
        print_s3(settings, results, load_at_start)
    else:
        _print(settings, results)
    if settings.json_out is not None:
        document = {
            "settings": asdict(settings),
            "machine": _machine(),
            **results.as_json(_figures(settings)),
        }
        settings.json_out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
