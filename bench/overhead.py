"""`python -m bench.run --ops-overhead`: what metrics and access logging cost on manifest GET.

Two Drift instances on fresh stores in one run: one with metrics off and the log at warning (no
instrumentation at all), one with metrics on and the log at info (one access line per request,
written to a file as in production). wrk measures manifest GET on each, in interleaved rounds
whose order rotates; the ratio instrumented / bare is the cost (target: at least 0.90). The
server CPU time per request (whole process tree) is printed too: on a shared machine it is far
steadier than the request rate.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import statistics
from pathlib import Path
from typing import Final

from tests.support.servers import RunningRegistry, start_drift

from bench.blobs import Blob
from bench.phases import REPO, log
from bench.procstat import cpu_seconds
from bench.registry_client import OCI_MANIFEST, RegistryClient
from bench.settings import Settings
from bench.wrk import run_wrk

__all__ = ["run_ops_overhead"]

BARE: Final = "bare"
INSTRUMENTED: Final = "instrumented"
TARGET: Final = 0.90
_ENVS: Final = {
    BARE: {"DRIFT_METRICS_ENABLED": "false", "DRIFT_LOG": "warning"},
    INSTRUMENTED: {"DRIFT_METRICS_ENABLED": "true", "DRIFT_LOG": "info"},
}


def _layer(scratch: Path) -> Blob:
    data = os.urandom(64 * 1024)
    path = scratch / "layer"
    path.write_bytes(data)
    return Blob(path, len(data), b"", f"sha256:{hashlib.sha256(data).hexdigest()}")


def _manifest_url(registry: RunningRegistry, layer: Blob) -> str:
    host, _, port = registry.host_port.rpartition(":")
    client = RegistryClient(host, int(port), REPO)
    try:
        client.push_monolithic(layer)
        image = client.seed_image(layer, 0)
    finally:
        client.close()
    return f"{registry.url}/v2/{image.repo}/manifests/{image.tag}"


def run_ops_overhead(settings: Settings, scratch: Path) -> float:
    """Print the rounds and the ratio; return the ratio of the picked (best) rounds."""
    layer = _layer(scratch)
    rates: dict[str, list[float]] = {BARE: [], INSTRUMENTED: []}
    cpu_us: dict[str, list[float]] = {BARE: [], INSTRUMENTED: []}
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        pids: dict[str, int] = {}
        for name, env in _ENVS.items():
            registry = stack.enter_context(
                start_drift(
                    scratch / f"{name}-store",
                    workers=settings.workers,
                    env={**settings.drift_env, **env, "DRIFT_DRAIN_SECONDS": "0"},
                    log_path=scratch / f"{name}.log",
                )
            )
            urls[name] = _manifest_url(registry, layer)
            pids[name] = registry.process.pid
        order = [BARE, INSTRUMENTED]
        for round_no in range(settings.rounds):
            for name in order[round_no % 2 :] + order[: round_no % 2]:
                cpu = cpu_seconds(pids[name])
                result = run_wrk(urls[name], settings.wrk_seconds, {"Accept": OCI_MANIFEST})
                cpu_us[name].append((cpu_seconds(pids[name]) - cpu) / result.requests * 1e6)
                if result.non_2xx or result.socket_errors:
                    raise RuntimeError(f"{name}: errors during the run: {result}")
                rates[name].append(result.requests_per_s)
                log(f"manifest GET round {round_no + 1}/{settings.rounds} {name:<12} "
                    f"{result.requests_per_s:>10,.0f} req/s "
                    f"{cpu_us[name][-1]:6.1f} CPU us/req")  # fmt: skip
    access_lines = sum(1 for _ in (scratch / f"{INSTRUMENTED}.log").open("rb"))
    best = max(rates[INSTRUMENTED]) / max(rates[BARE])
    median = statistics.median(rates[INSTRUMENTED]) / statistics.median(rates[BARE])
    print(
        f"\nmanifest GET, {settings.workers} workers, {settings.rounds} interleaved rounds of "
        f"{settings.wrk_seconds:g} s"
    )
    for name in order:
        figures = ", ".join(f"{rate:,.0f}" for rate in rates[name])
        print(f"  {name:<12} {_ENVS[name]}: {figures} req/s")
        print(
            f"  {'':<12} server CPU per request, median: {statistics.median(cpu_us[name]):.1f} us"
        )
    print(f"  access log lines written by the instrumented instance: {access_lines:,}")
    cpu_ratio = statistics.median(cpu_us[BARE]) / statistics.median(cpu_us[INSTRUMENTED])
    print(f"  CPU-based ratio (bare CPU/request over instrumented): {cpu_ratio:.3f}")
    verdict = "ok" if best >= TARGET else "OVER BUDGET"
    print(f"  ratio instrumented/bare: best {best:.3f}, median {median:.3f} "
          f"(target >= {TARGET:.2f}: {verdict})")  # fmt: skip
    return best
