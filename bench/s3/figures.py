"""The figures of the S3 benchmark and their targets (issue: push >= 2x the reference, pull
>= 1x, memory <= 2 parts per concurrent upload)."""

from __future__ import annotations

from typing import Final

from bench.report import Figure, Goal
from bench.s3.servers import Mode

__all__ = [
    "CONCURRENT_PUSH",
    "PULL",
    "PULL_CPU",
    "PUSH_CHUNKED",
    "PUSH_MONOLITHIC",
    "STREAMS",
    "UPLOAD_PARTS",
    "UPLOAD_PSS",
    "UPLOAD_RSS",
    "s3_figures",
]

STREAMS: Final = (1, 8)
PUSH_MONOLITHIC: Final = Figure(
    "s3_push_monolithic", "push monolithic", "MB/s", Goal(vs_reference=2)
)
PUSH_CHUNKED: Final = Figure(
    "s3_push_chunked", "push chunked, 8 MiB PATCH", "MB/s", Goal(vs_reference=2)
)
PULL: Final = {
    (mode, streams): Figure(
        f"s3_pull_{mode}_{streams}",
        f"pull {mode}, {streams} stream{'s' if streams > 1 else ''}",
        "MB/s",
        Goal(vs_reference=1),
    )
    for mode in Mode
    for streams in STREAMS
}
PULL_CPU: Final = {
    mode: Figure(
        f"s3_cpu_per_gb_{mode}",
        f"server CPU per GB pulled, {mode}",
        "s/GB",
        None,
        higher_is_better=False,
    )
    for mode in Mode
}
CONCURRENT_PUSH: Final = Figure(
    "s3_concurrent_push", "8 concurrent monolithic pushes, aggregate", "MB/s", None
)
UPLOAD_RSS: Final = Figure(
    "s3_upload_rss", "server RSS per concurrent upload", "MB", None, higher_is_better=False
)
UPLOAD_PSS: Final = Figure(
    "s3_upload_pss", "server PSS per concurrent upload", "MB", None, higher_is_better=False
)
UPLOAD_PARTS: Final = Figure(
    "s3_upload_parts",
    "server RSS per concurrent upload, in parts",
    "parts",
    Goal(at_most=2),
    higher_is_better=False,
)


def s3_figures() -> list[Figure]:
    """In the order of the table."""
    return [
        PUSH_MONOLITHIC,
        PUSH_CHUNKED,
        *(PULL[(mode, streams)] for mode in Mode for streams in STREAMS),
        *(PULL_CPU[mode] for mode in Mode),
        CONCURRENT_PUSH,
        UPLOAD_RSS,
        UPLOAD_PSS,
        UPLOAD_PARTS,
    ]
