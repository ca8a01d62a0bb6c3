"""`python -m bench.run --h3`: Drift's HTTP/3 path against the minimal aioquic server.

Makes a test CA and its server certificate (both transports of Drift and the minimal server use
it; every client trusts only the CA), three random files (``bench.h3.content``), seeds Drift
over HTTPS, then runs the phases of ``bench.h3.workload``: HTTPS/1.1 once, and for each datagram
size (1,350 bytes and the largest loopback allows, unless ``--datagram-size`` says otherwise)
the small-blob memory phase and the full phase with the minimal servers (one serving the full
file, one an eighth of it for the 8-stream pulls). Prints one table per datagram size and one
for HTTPS/1.1, with the load average at start and end (the machine is shared).
"""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager
from pathlib import Path

from tests.support.tls import make_pki

from bench.h3.content import LAYERED_REPO, REPO, Content, make_sources
from bench.h3.figures import MINIMAL, H3Figures, HttpsFigures, h3_figures, https_figures
from bench.h3.https import tls_registry_client
from bench.h3.servers import DriftH3, datagram_sizes, start_drift, start_minimal
from bench.h3.workload import Workload
from bench.phases import log
from bench.report import DRIFT, Figure, Results, format_value, render_table
from bench.settings import Settings

__all__ = ["h3_figure_list", "print_h3", "run_h3"]


def run_h3(settings: Settings, results: Results, scratch: Path) -> None:
    pki = make_pki(scratch / "pki")
    sources = make_sources(scratch / "www", settings.size)
    root = scratch / "drift-store"
    sizes = datagram_sizes(settings.datagram_sizes)

    def drift(datagram_size: int) -> AbstractContextManager[DriftH3]:
        return start_drift(root, pki, datagram_size, settings.workers, settings.drift_env)

    with drift(sizes[0]) as seeding:
        client = tls_registry_client("127.0.0.1", seeding.https_port, REPO, pki)
        layered = tls_registry_client("127.0.0.1", seeding.https_port, LAYERED_REPO, pki)
        with contextlib.closing(client), contextlib.closing(layered):
            content = Content.seed(sources, client, layered)
    log(f"seeded Drift: blobs of {settings.size >> 20} MiB and 1/8 of it, two images")
    workload = Workload(settings, results, scratch, pki, content)
    with drift(sizes[0]) as server:
        workload.https(server)
    for size in sizes:
        with drift(size) as server:
            small_rss = workload.small(server, size)
        with (
            drift(size) as server,
            start_minimal(sources.full.path, pki, size, scratch / "minimal.log") as full,
            start_minimal(sources.eighth.path, pki, size, scratch / "minimal.log") as eighth,
        ):
            workload.full(server, {1: full, 8: eighth}, size, small_rss)


def h3_figure_list(settings: Settings) -> list[Figure]:
    listed = https_figures().all()
    for size in datagram_sizes(settings.datagram_sizes):
        listed += h3_figures(size).all()
    return listed


def _verdict(figure: Figure, drift: float | None, minimal: float | None) -> str:
    goal = figure.goal
    if goal is None or drift is None:
        return "-"
    met = goal.met(drift, minimal, None)
    return {True: "PASS", False: "FAIL", None: "-"}[met]


def _target(figure: Figure) -> str:
    goal = figure.goal
    if goal is None:
        return ""
    if goal.vs_reference is not None:
        return f">= {goal.vs_reference:.2f}x minimal"
    return f"<= {goal.at_most:g} {figure.unit}"


def _h3_table(results: Results, found: H3Figures) -> str:
    rows = []
    for figure in found.all():
        drift, minimal = results.value(figure, DRIFT), results.value(figure, MINIMAL)
        ratio = "-" if drift is None or not minimal else f"{drift / minimal:.2f}x"
        rows.append(
            [
                f"{figure.title} ({figure.unit})",
                format_value(drift),
                format_value(minimal),
                ratio,
                _target(figure),
                _verdict(figure, drift, minimal),
            ]
        )
    header = ["figure", "Drift", "minimal aioquic", "Drift/minimal", "target", "result"]
    return render_table(header, rows)


def _https_table(results: Results, found: HttpsFigures) -> str:
    rows = [
        [f"{figure.title} ({figure.unit})", format_value(results.value(figure, DRIFT))]
        for figure in found.all()
    ]
    return render_table(["figure", "Drift"], rows)


def print_h3(settings: Settings, results: Results, load_at_start: float) -> None:
    print(
        f"\nHTTP/3: Drift ({settings.workers} worker{'s' if settings.workers > 1 else ''}, "
        f"uvloop) vs the minimal aioquic server (bench.quic_minimal), "
        f"{settings.size / (1 << 20):g} MiB blobs, {settings.rounds} interleaved rounds, "
        f"{settings.pick} round reported; clients: Bolt's HTTP/3 client (pulls), "
        "tests.support.h3client (pushes), driftctl; MB = 10^6 bytes"
    )
    for size in datagram_sizes(settings.datagram_sizes):
        print(f"\nHTTP/3, {size}-byte datagrams:\n")
        print(_h3_table(results, h3_figures(size)))
    print("\nHTTPS/1.1 (TLS 1.3), same Drift, pulls by curl, pushes by bench.registry_client:\n")
    print(_https_table(results, https_figures()))
    print(
        f"\nload average (1 min): {load_at_start:.2f} at the start, {os.getloadavg()[0]:.2f} at "
        f"the end ({os.cpu_count()} CPUs shared by clients and servers)"
    )
