"""The phases of the HTTP/3 benchmark, each against a freshly started Drift on the same store.

- ``https``: HTTPS/1.1 pushes (monolithic, chunked) and curl pulls (1 stream; 8 streams of an
  eighth of the size each), Drift's peak RSS through them.
- ``small`` (per datagram size): the 1-stream HTTP/3 pulls and the pushes of the full phase with
  blobs 8x smaller, Drift alone: its peak RSS, the baseline of the memory verdict.
- ``full`` (per datagram size): HTTP/3 pulls on 1 stream, Drift and the minimal server
  interleaved round by round (the order rotates each round), and HTTP/3 pushes: Drift's peak RSS
  through them against the small phase's; then pulls on 8 streams, interleaved the same way,
  and whole ``driftctl pull --http3`` commands of a 1-layer and an 8-layer image, with their
  peak RSS apart. The CPU per GB of every server.

A fresh process per phase keeps one phase's memory out of the next one's peak.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tests.support.tls import LoopbackPki

from bench.blobs import Blob
from bench.h3 import figures
from bench.h3.content import LAYERS, REPO, Content, Image
from bench.h3.figures import MINIMAL, PUSH_MODES, STREAMS
from bench.h3.https import curl_pull, tls_registry_client
from bench.h3.servers import DriftH3, MinimalServer
from bench.h3.transfers import Transfer, driftctl_pull, h3_pull, h3_push, https_push
from bench.phases import log
from bench.procstat import RssPeak, RssSampler, cpu_seconds
from bench.report import DRIFT, Figure, Results, Sample
from bench.settings import Settings

__all__ = ["PullTarget", "Workload"]

_MINIMAL_PATH = "/blob"  # the minimal server answers any path with its file


@dataclass(frozen=True, slots=True)
class PullTarget:
    server: str
    pid: int
    port: int
    path: str
    size: int  # of one response body


class _Cost:
    """Server CPU seconds and bytes moved, per server, over the transfers of one figure group."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.moved: dict[str, int] = {}

    def add(self, server: str, cpu: float, moved: int) -> None:
        self.cpu[server] = self.cpu.get(server, 0.0) + cpu
        self.moved[server] = self.moved.get(server, 0) + moved

    def record(self, results: Results, figure: Figure) -> None:
        for server, cpu in self.cpu.items():
            per_gb = cpu / self.moved[server] * 1e9
            results.add(figure, server, Sample(per_gb, {"cpu_s": cpu, "bytes": self.moved[server]}))


@contextlib.contextmanager
def _sampling(servers: dict[str, int]) -> Iterator[dict[str, RssPeak]]:
    """The peak RSS of each server's process tree through the ``with`` block."""
    sampler = RssSampler()
    for name, pid in servers.items():
        sampler.watch(name, pid)
    sampler.start()
    peaks: dict[str, RssPeak] = {}
    try:
        yield peaks
    finally:
        peaks.update(sampler.stop())


def _rate(moved: int, seconds: float) -> str:
    return f"{moved / seconds / 1e6:,.1f} MB/s"


class Workload:
    def __init__(
        self,
        settings: Settings,
        results: Results,
        scratch: Path,
        pki: LoopbackPki,
        content: Content,
    ) -> None:
        self.settings = settings
        self.results = results
        self.scratch = scratch
        self.pki = pki
        self.content = content

    def _rounds(self, entries: list[PullTarget]) -> Iterator[tuple[int, PullTarget]]:
        for round_no in range(self.settings.rounds):
            shift = round_no % len(entries)
            for entry in entries[shift:] + entries[:shift]:
                yield round_no, entry

    def _timed(self, pid: int, cost: _Cost, server: str, run: Callable[[], Transfer]) -> Sample:
        cpu = cpu_seconds(pid)
        moved, seconds = run()
        cpu = cpu_seconds(pid) - cpu
        cost.add(server, cpu, moved)
        return Sample(moved / seconds / 1e6, {"seconds": seconds, "bytes": moved, "cpu_s": cpu})

    def _record(
        self, figure: Figure, label: str, round_no: int, server: str, sample: Sample
    ) -> None:
        self.results.add(figure, server, sample)
        log(
            f"{label:<7} {figure.title:<46} round {round_no + 1}/{self.settings.rounds} "
            f"{server:<8} {sample.value:>10,.1f} {figure.unit}"
        )

    def _push_variant(self, name: str) -> Blob:
        """A new blob of source ``name`` (no push meets an existing blob), after ``os.sync``."""
        os.sync()  # the previous push's dirty pages must not be written back on our clock
        source = getattr(self.content.sources, name)
        blob: Blob = source.variant()
        return blob

    # -- HTTPS/1.1

    def https(self, drift: DriftH3) -> None:
        found = figures.https_figures()
        client = tls_registry_client("127.0.0.1", drift.https_port, REPO, self.pki)
        pushed, pulled = _Cost(), _Cost()
        with contextlib.closing(client), _sampling({DRIFT: drift.pid}) as peaks:
            for mode in PUSH_MODES:
                for round_no in range(self.settings.rounds):
                    push = partial(https_push, client, self._push_variant("full"), mode)
                    sample = self._timed(drift.pid, pushed, DRIFT, push)
                    self._record(found.push[mode], "https", round_no, DRIFT, sample)
            base = f"https://127.0.0.1:{drift.https_port}"
            for streams, name in ((1, "full"), (LAYERS, "eighth")):
                blob = self.content.blobs[name]
                url = f"{base}/v2/{REPO}/blobs/{blob.digest}"
                for round_no in range(self.settings.rounds):
                    pull = partial(curl_pull, url, streams, self.pki, blob.size)
                    sample = self._timed(drift.pid, pulled, DRIFT, pull)
                    self._record(found.pull[streams], "https", round_no, DRIFT, sample)
        pushed.record(self.results, found.push_cpu)
        pulled.record(self.results, found.pull_cpu)
        self.results.add(found.rss, DRIFT, Sample(peaks[DRIFT].total_bytes / 1e6))

    # -- HTTP/3

    def _drift_target(self, drift: DriftH3, name: str) -> PullTarget:
        path = f"/v2/{REPO}/blobs/{self.content.blobs[name].digest}"
        return PullTarget(DRIFT, drift.pid, drift.quic_port, path, self.content.blobs[name].size)

    def _h3_pull(self, target: PullTarget, datagram_size: int, streams: int) -> Transfer:
        return h3_pull(
            target.port, self.pki.ca_cert, datagram_size, target.path, streams, target.size
        )

    def _h3_push(self, drift: DriftH3, datagram_size: int, blob: Blob, mode: str) -> Transfer:
        return h3_push(drift.quic_port, self.pki.ca_cert, datagram_size, REPO, blob, mode)

    def small(self, drift: DriftH3, datagram_size: int) -> float:
        """The 1-stream transfers of the full phase with 8x smaller blobs, as many rounds;
        Drift's peak RSS (bytes) through them."""
        label = f"{datagram_size}B"
        with _sampling({DRIFT: drift.pid}) as peaks:
            for _ in range(self.settings.rounds):
                target = self._drift_target(drift, "eighth")
                moved, seconds = self._h3_pull(target, datagram_size, 1)
                log(f"{label:<7} small: pull, {moved:,} bytes: {_rate(moved, seconds)}")
                for mode in PUSH_MODES:
                    blob = self._push_variant("eighth")
                    moved, seconds = self._h3_push(drift, datagram_size, blob, mode)
                    log(f"{label:<7} small: push {mode}, {moved:,} bytes: {_rate(moved, seconds)}")
        return float(peaks[DRIFT].total_bytes)

    def full(
        self,
        drift: DriftH3,
        minimal: dict[int, MinimalServer],
        datagram_size: int,
        small_rss: float,
    ) -> None:
        """1-stream pulls and pushes (their RSS against ``small_rss``), then 8-stream pulls and
        ``driftctl`` pulls (their RSS apart: it is bounded by the flow-control windows of 8
        streams, reached only once the congestion window has grown, not by the blob size)."""
        found = figures.h3_figures(datagram_size)
        pulled, pushed = _Cost(), _Cost()
        with _sampling({DRIFT: drift.pid, MINIMAL: minimal[1].pid}) as single:
            self._pulls(found, drift, minimal[1], 1, datagram_size, pulled)
            for mode in PUSH_MODES:
                for round_no in range(self.settings.rounds):
                    blob = self._push_variant("full")
                    push = partial(self._h3_push, drift, datagram_size, blob, mode)
                    sample = self._timed(drift.pid, pushed, DRIFT, push)
                    self._record(found.push[mode], f"{datagram_size}B", round_no, DRIFT, sample)
        with _sampling({DRIFT: drift.pid, MINIMAL: minimal[LAYERS].pid}) as parallel:
            self._pulls(found, drift, minimal[LAYERS], LAYERS, datagram_size, pulled)
            for layers, image in ((1, self.content.single), (LAYERS, self.content.layered)):
                for round_no in range(self.settings.rounds):
                    command = partial(self._driftctl, drift, image)
                    sample = self._timed(drift.pid, _Cost(), DRIFT, command)
                    self._record(found.bolt[layers], f"{datagram_size}B", round_no, DRIFT, sample)
        pulled.record(self.results, found.pull_cpu)
        pushed.record(self.results, found.push_cpu)
        self.results.add(found.rss_small, DRIFT, Sample(small_rss / 1e6))
        for figure, peaks in ((found.rss_full, single), (found.rss_streams, parallel)):
            for server, peak in peaks.items():
                self.results.add(figure, server, Sample(peak.total_bytes / 1e6))
        growth = (single[DRIFT].total_bytes - small_rss) / small_rss * 100
        self.results.add(found.rss_growth, DRIFT, Sample(growth))

    def _pulls(
        self,
        found: figures.H3Figures,
        drift: DriftH3,
        yardstick: MinimalServer,
        streams: int,
        datagram_size: int,
        cost: _Cost,
    ) -> None:
        """The rounds of 1-stream pulls of the full blob or of 8-stream pulls of the eighth one
        (``yardstick`` serves the same size), Drift and the minimal server interleaved."""
        targets = [
            self._drift_target(drift, "full" if streams == 1 else "eighth"),
            PullTarget(MINIMAL, yardstick.pid, yardstick.port, _MINIMAL_PATH, yardstick.size),
        ]
        for round_no, target in self._rounds(targets):
            pull = partial(self._h3_pull, target, datagram_size, streams)
            sample = self._timed(target.pid, cost, target.server, pull)
            self._record(found.pull[streams], f"{datagram_size}B", round_no, target.server, sample)

    def _driftctl(self, drift: DriftH3, image: Image) -> Transfer:
        reference = f"127.0.0.1:{drift.quic_port}/{image.repo}:latest"
        output = self.scratch / "layouts" / "pulled"
        output.parent.mkdir(exist_ok=True)
        return driftctl_pull(reference, self.pki.ca_cert, output, image.size, image.manifest_digest)


assert STREAMS == (1, LAYERS)
