"""The progress display: plain lines for logs and pipes, a block redrawn in place on a terminal
(at most ten times a second), and the summary with the overall throughput."""

from __future__ import annotations

import io

from drift.bolt.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_tell_each_blob_and_the_total() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, interactive=False, clock=clock)
    progress.add("sha256:aaaa", 4_000_000)
    progress.add("sha256:bbbb", 1_000_000)
    progress.present("sha256:bbbb")
    progress.start("sha256:aaaa")
    clock.now += 1.0
    progress.advance("sha256:aaaa", 1_000_000)  # no total line yet: less than 2 s since the last
    progress.retry("sha256:aaaa", "stream reset by the registry (H3_INTERNAL_ERROR)", 1_000_000)
    clock.now += 2.5
    progress.advance("sha256:aaaa", 2_000_000)
    progress.advance("sha256:aaaa", 1_000_000)
    progress.done("sha256:aaaa")
    progress.close()

    assert out.getvalue().splitlines() == [
        "sha256:bbbb: already present (1.0 MB)",
        "sha256:aaaa: downloading 4.0 MB",
        "sha256:aaaa: stream reset by the registry (H3_INTERNAL_ERROR); resuming at byte 1000000",
        "total: 4.0 MB of 5.0 MB, 0.9 MB/s",
        "sha256:aaaa: done, 4.0 MB in 3.50 s (1.1 MB/s)",
        "pulled 2 blobs, 4.0 MB transferred in 3.50 s, 1.1 MB/s",
    ]
    assert progress.transferred == 4_000_000


def test_a_terminal_gets_a_block_redrawn_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, interactive=True, clock=clock)
    progress.add("sha256:aaaa", 2_000_000)
    progress.add("sha256:bbbb", 1_000_000)
    progress.start("sha256:aaaa")
    first = out.getvalue()
    assert first == (
        "\x1b[2Ksha256:aaaa  0.0 MB / 2.0 MB    0.0%\n"
        "\x1b[2Ksha256:bbbb  waiting (1.0 MB)\n"
        "\x1b[2Ktotal: 0.0 MB of 3.0 MB, 0.0 MB/s\n"
    )
    progress.advance("sha256:aaaa", 500_000)  # within 0.1 s of the last drawing: not redrawn
    assert out.getvalue() == first
    clock.now += 0.5
    progress.advance("sha256:aaaa", 500_000)
    redrawn = out.getvalue()[len(first) :]
    assert redrawn.startswith("\x1b[3F\x1b[2Ksha256:aaaa  1.0 MB / 2.0 MB   50.0%\n")
    assert redrawn.endswith("total: 1.0 MB of 3.0 MB, 2.0 MB/s\n")
