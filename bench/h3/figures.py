"""The figures of the HTTP/3 benchmark (issue 6) and their targets.

Per datagram size: pulls on 1 and 8 streams, Drift against the minimal aioquic server (target:
Drift >= 0.90x the minimal server), pushes, whole ``driftctl pull --http3`` runs, the server's
CPU per GB and its peak RSS: through the same 1-stream pulls and pushes of two blob sizes
(target: flat, at most ``RSS_GROWTH_LIMIT`` percent more with 8x larger blobs), and through the
8-stream pulls (bounded by the flow-control windows). HTTPS/1.1 figures of the same Drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bench.report import Figure, Goal

__all__ = [
    "MINIMAL",
    "PUSH_MODES",
    "RSS_GROWTH_LIMIT",
    "STREAMS",
    "H3Figures",
    "HttpsFigures",
    "h3_figures",
    "https_figures",
]

MINIMAL: Final = "minimal"
STREAMS: Final = (1, 8)
PUSH_MODES: Final = ("monolithic", "chunked")
RSS_GROWTH_LIMIT: Final = 10.0  # percent
VS_MINIMAL: Final = Goal(vs_reference=0.9)  # "reference" is the minimal server here
_PUSH_TITLES: Final = {"monolithic": "push monolithic", "chunked": "push chunked, 8 MiB PATCH"}


def _streams(streams: int) -> str:
    return "1 stream" if streams == 1 else f"{streams} streams (8 x 1/8 blob)"


@dataclass(frozen=True, slots=True)
class H3Figures:
    datagram_size: int
    pull: dict[int, Figure]
    push: dict[str, Figure]
    bolt: dict[int, Figure]  # whole ``driftctl pull --http3`` commands, 1 and 8 layers
    pull_cpu: Figure
    push_cpu: Figure
    rss_small: Figure
    rss_full: Figure
    rss_growth: Figure
    rss_streams: Figure

    def all(self) -> list[Figure]:
        return [
            *self.pull.values(),
            *self.push.values(),
            *self.bolt.values(),
            self.pull_cpu,
            self.push_cpu,
            self.rss_small,
            self.rss_full,
            self.rss_growth,
            self.rss_streams,
        ]


def h3_figures(datagram_size: int) -> H3Figures:
    d = datagram_size
    return H3Figures(
        datagram_size=d,
        pull={
            n: Figure(f"h3_{d}_pull_{n}", f"pull, {_streams(n)}", "MB/s", VS_MINIMAL)
            for n in STREAMS
        },
        push={
            mode: Figure(f"h3_{d}_push_{mode}", _PUSH_TITLES[mode], "MB/s") for mode in PUSH_MODES
        },
        bolt={
            n: Figure(
                f"h3_{d}_driftctl_{n}",
                f"driftctl pull --http3, {n} layer{'s' if n > 1 else ''} (whole command)",
                "MB/s",
            )
            for n in STREAMS
        },
        pull_cpu=Figure(
            f"h3_{d}_pull_cpu", "server CPU per GB pulled", "s/GB", None, higher_is_better=False
        ),
        push_cpu=Figure(
            f"h3_{d}_push_cpu", "server CPU per GB pushed", "s/GB", None, higher_is_better=False
        ),
        rss_small=Figure(
            f"h3_{d}_rss_small",
            "server peak RSS, 1-stream pulls + pushes, 1/8 size",
            "MB",
            None,
            higher_is_better=False,
        ),
        rss_full=Figure(
            f"h3_{d}_rss_full",
            "server peak RSS, 1-stream pulls + pushes, full size",
            "MB",
            None,
            higher_is_better=False,
        ),
        rss_growth=Figure(
            f"h3_{d}_rss_growth",
            "peak RSS growth, 1/8 -> full size",
            "%",
            Goal(at_most=RSS_GROWTH_LIMIT),
            higher_is_better=False,
        ),
        rss_streams=Figure(
            f"h3_{d}_rss_streams",
            "server peak RSS, 8-stream + driftctl pulls",
            "MB",
            None,
            higher_is_better=False,
        ),
    )


@dataclass(frozen=True, slots=True)
class HttpsFigures:
    pull: dict[int, Figure]
    push: dict[str, Figure]
    pull_cpu: Figure
    push_cpu: Figure
    rss: Figure

    def all(self) -> list[Figure]:
        return [*self.pull.values(), *self.push.values(), self.pull_cpu, self.push_cpu, self.rss]


def https_figures() -> HttpsFigures:
    return HttpsFigures(
        pull={n: Figure(f"https_pull_{n}", f"pull, {_streams(n)} (curl)", "MB/s") for n in STREAMS},
        push={
            mode: Figure(f"https_push_{mode}", _PUSH_TITLES[mode], "MB/s") for mode in PUSH_MODES
        },
        pull_cpu=Figure(
            "https_pull_cpu", "server CPU per GB pulled", "s/GB", None, higher_is_better=False
        ),
        push_cpu=Figure(
            "https_push_cpu", "server CPU per GB pushed", "s/GB", None, higher_is_better=False
        ),
        rss=Figure("https_rss", "server peak RSS", "MB", None, higher_is_better=False),
    )
