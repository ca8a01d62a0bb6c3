"""Figures, their goals, the samples collected per server, and the printed table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "DRIFT",
    "FIGURES",
    "NGINX",
    "REFERENCE",
    "Figure",
    "Goal",
    "Pick",
    "Results",
    "Sample",
    "format_value",
    "render_table",
]

DRIFT: Final = "drift"
REFERENCE: Final = "reference"
NGINX: Final = "nginx"


class Pick(StrEnum):
    BEST = "best"
    MEDIAN = "median"


@dataclass(frozen=True, slots=True)
class Goal:
    """Drift >= `vs_reference` x reference, >= `vs_nginx` x nginx, <= `at_most` (absolute)."""

    vs_reference: float | None = None
    vs_nginx: float | None = None
    at_most: float | None = None

    def describe(self, unit: str) -> str:
        parts = []
        if self.vs_reference is not None:
            parts.append(f">= {self.vs_reference:g}x ref")
        if self.vs_nginx is not None:
            parts.append(f">= {self.vs_nginx:.0%} nginx")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most:g} {unit}")
        return ", ".join(parts)

    def met(self, drift: float, reference: float | None, nginx: float | None) -> bool | None:
        checks = []
        if self.vs_reference is not None:
            checks.append(None if reference is None else drift >= self.vs_reference * reference)
        if self.vs_nginx is not None:
            checks.append(None if nginx is None else drift >= self.vs_nginx * nginx)
        if self.at_most is not None:
            checks.append(drift <= self.at_most)
        if None in checks:
            return None
        return all(checks)


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    title: str
    unit: str
    goal: Goal | None = None
    higher_is_better: bool = True


PUSH_MONOLITHIC: Final = Figure("push_monolithic", "push monolithic", "MB/s", Goal(vs_reference=4))
PUSH_CHUNKED: Final = Figure(
    "push_chunked", "push chunked, 8 MiB PATCH", "MB/s", Goal(vs_reference=4)
)
PULL_ONE: Final = Figure("pull_1", "pull, 1 stream", "MB/s", Goal(vs_reference=1.3, vs_nginx=0.85))
PULL_EIGHT: Final = Figure("pull_8", "pull, 8 streams", "MB/s", Goal(vs_nginx=0.9))
MANIFEST_GET: Final = Figure("manifest_get", "manifest GET", "req/s", Goal(vs_reference=5))
BLOB_HEAD: Final = Figure("blob_head", "blob HEAD", "req/s", Goal(vs_reference=5))
TAGS_LIST: Final = Figure("tags_list", "tags/list", "req/s", Goal(vs_reference=3))
CPU_PER_GB: Final = Figure(
    "cpu_per_gb", "server CPU per GB pulled", "s/GB", Goal(at_most=0.3), higher_is_better=False
)
RSS_TOTAL: Final = Figure(
    "rss_total", "peak RSS, all processes", "MB", Goal(at_most=120), higher_is_better=False
)
PSS_TOTAL: Final = Figure(
    "pss_total", "peak PSS, all processes (shared pages once)", "MB", None, higher_is_better=False
)
RSS_LARGEST: Final = Figure(
    "rss_largest", "peak RSS, largest process", "MB", None, higher_is_better=False
)
FIGURES: Final = (
    PUSH_MONOLITHIC,
    PUSH_CHUNKED,
    PULL_ONE,
    PULL_EIGHT,
    MANIFEST_GET,
    BLOB_HEAD,
    TAGS_LIST,
    CPU_PER_GB,
    RSS_TOTAL,
    PSS_TOTAL,
    RSS_LARGEST,
)
LATENCY_FIGURES: Final = (MANIFEST_GET, BLOB_HEAD, TAGS_LIST)


@dataclass(frozen=True, slots=True)
class Sample:
    value: float
    detail: dict[str, float] = field(default_factory=dict)


_VERDICTS: Final = {True: "PASS", False: "FAIL", None: "-"}


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def render_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


class Results:
    def __init__(self, pick: Pick) -> None:
        self.pick_rule = pick
        self.samples: dict[str, dict[str, list[Sample]]] = defaultdict(lambda: defaultdict(list))
        self.ceiling: dict[str, float] = {}

    def add(self, figure: Figure, server: str, sample: Sample) -> None:
        self.samples[figure.key][server].append(sample)

    def picked(self, figure: Figure, server: str) -> Sample | None:
        samples = self.samples.get(figure.key, {}).get(server)
        if not samples:
            return None
        ordered = sorted(samples, key=lambda s: s.value, reverse=figure.higher_is_better)
        if self.pick_rule is Pick.BEST:
            return ordered[0]
        return ordered[len(ordered) // 2] if len(ordered) % 2 else ordered[len(ordered) // 2 - 1]

    def value(self, figure: Figure, server: str) -> float | None:
        sample = self.picked(figure, server)
        return None if sample is None else sample.value

    def summary_table(self, figures: Sequence[Figure] = FIGURES) -> str:
        """One row per figure; the nginx columns only when some figure has an nginx value."""
        with_nginx = any(self.value(figure, NGINX) is not None for figure in figures)
        header = ["figure", "Drift", "reference"]
        header += ["nginx", "Drift/ref", "Drift/nginx"] if with_nginx else ["Drift/ref"]
        rows = []
        for figure in figures:
            drift, ref, nginx = (self.value(figure, s) for s in (DRIFT, REFERENCE, NGINX))
            goal = figure.goal
            met = None if goal is None or drift is None else goal.met(drift, ref, nginx)
            row = [f"{figure.title} ({figure.unit})", format_value(drift), format_value(ref)]
            if with_nginx:
                row += [format_value(nginx), _ratio(drift, ref), _ratio(drift, nginx)]
            else:
                row += [_ratio(drift, ref)]
            row += [goal.describe(figure.unit) if goal else "", _VERDICTS[met]]
            rows.append(row)
        return render_table([*header, "target", "result"], rows)

    def latency_table(self) -> str:
        header = ["latency (ms)", "Drift p50", "Drift p99", "ref p50", "ref p99"]
        rows = []
        for figure in LATENCY_FIGURES:
            cells = [figure.title]
            for server in (DRIFT, REFERENCE):
                sample = self.picked(figure, server)
                detail = sample.detail if sample else {}
                cells += [format_value(detail.get("p50_ms")), format_value(detail.get("p99_ms"))]
            rows.append(cells)
        return render_table(header, rows)

    def ceiling_lines(self) -> str:
        return "\n".join(f"{name}: {format_value(value)}" for name, value in self.ceiling.items())

    def as_json(self, figures: Sequence[Figure] = FIGURES) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for figure in figures:
            per_server = self.samples.get(figure.key, {})
            document[figure.key] = {
                "title": figure.title,
                "unit": figure.unit,
                "goal": asdict(figure.goal) if figure.goal else None,
                "picked": {s: self.value(figure, s) for s in per_server},
                "samples": {s: [asdict(x) for x in xs] for s, xs in per_server.items()},
            }
        return {"pick": str(self.pick_rule), "ceiling": self.ceiling, "figures": document}
