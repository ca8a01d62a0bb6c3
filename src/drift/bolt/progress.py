"""The progress display of a pull on stderr: each blob's bytes of its total, and the throughput.

On a terminal the display is a block of lines redrawn in place (at most ``REDRAW_HZ`` times a
second): one line per blob (waiting, its bytes and percentage, done) and a total line with the
overall throughput. Elsewhere (a log, a pipe, a test) it writes plain lines: when a blob starts
and ends, when a download is retried, the total every ``LINE_INTERVAL`` seconds, and a summary.
Sizes and rates are decimal (1 MB = 10^6 bytes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TextIO

__all__ = ["LINE_INTERVAL", "REDRAW_HZ", "Progress", "megabytes"]

REDRAW_HZ: Final = 10
LINE_INTERVAL: Final = 2.0
_CLEAR_LINE: Final = "\x1b[2K"


def megabytes(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


@dataclass(slots=True)
class _Blob:
    total: int
    received: int = 0
    state: str = "waiting"  # waiting, downloading, done, present
    started: float = 0.0


class Progress:
    def __init__(
        self,
        stream: TextIO,
        *,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interactive = stream.isatty() if interactive is None else interactive
        self._clock = clock
        self._blobs: dict[str, _Blob] = {}
        self._began: float | None = None
        self._transferred = 0
        self._drawn_lines = 0
        self._last_output = 0.0

    @property
    def transferred(self) -> int:
        """Bytes received over the network so far."""
        return self._transferred

    def add(self, name: str, total: int) -> None:
        self._blobs.setdefault(name, _Blob(total))

    def present(self, name: str) -> None:
        """The blob was already in the layout: nothing to transfer."""
        blob = self._blobs[name]
        blob.state, blob.received = "present", blob.total
        self._changed(f"{name}: already present ({megabytes(blob.total)})")

    def start(self, name: str) -> None:
        blob = self._blobs[name]
        now = self._clock()
        if self._began is None:
            self._began = now
        if blob.state == "waiting":
            blob.state, blob.started = "downloading", now
            self._changed(f"{name}: downloading {megabytes(blob.total)}")

    def advance(self, name: str, amount: int) -> None:
        self._blobs[name].received += amount
        self._transferred += amount
        now = self._clock()
        if self._interactive:
            if now - self._last_output >= 1 / REDRAW_HZ:
                self._redraw(now)
        elif now - self._last_output >= LINE_INTERVAL:
            self._line(self._total_line(now), now)

    def retry(self, name: str, reason: str, offset: int) -> None:
        blob = self._blobs[name]
        blob.received = offset
        where = f"resuming at byte {offset}" if offset else "starting over"
        self._changed(f"{name}: {reason}; {where}")

    def done(self, name: str) -> None:
        blob = self._blobs[name]
        blob.state = "done"
        seconds = max(self._clock() - blob.started, 1e-6)
        rate = megabytes(blob.total / seconds)
        self._changed(f"{name}: done, {megabytes(blob.total)} in {seconds:.2f} s ({rate}/s)")

    def close(self) -> None:
        """The summary line (after the final drawing on a terminal)."""
        now = self._clock()
        if self._interactive:
            self._redraw(now)
        seconds = now - self._began if self._began is not None else 0.0
        rate = f", {megabytes(self._transferred / seconds)}/s" if seconds > 0 else ""
        self._stream.write(
            f"pulled {len(self._blobs)} blobs, {megabytes(self._transferred)} transferred "
            f"in {seconds:.2f} s{rate}\n"
        )
        self._stream.flush()

    # -- output

    def _changed(self, message: str) -> None:
        now = self._clock()
        if self._interactive:
            self._redraw(now)
        else:
            self._line(message, now)

    def _line(self, text: str, now: float) -> None:
        self._last_output = now
        self._stream.write(text + "\n")
        self._stream.flush()

    def _total_line(self, now: float) -> str:
        total = sum(blob.total for blob in self._blobs.values())
        have = sum(blob.received for blob in self._blobs.values())
        seconds = now - self._began if self._began is not None else 0.0
        rate = megabytes(self._transferred / seconds) if seconds > 0 else megabytes(0)
        return f"total: {megabytes(have)} of {megabytes(total)}, {rate}/s"

    def _blob_line(self, name: str, blob: _Blob) -> str:
        if blob.state == "downloading":
            percent = 100 * blob.received / blob.total if blob.total else 100.0
            amount = f"{megabytes(blob.received)} / {megabytes(blob.total)}"
            return f"{name}  {amount}  {percent:5.1f}%"
        return f"{name}  {blob.state} ({megabytes(blob.total)})"

    def _redraw(self, now: float) -> None:
        self._last_output = now
        lines = [self._blob_line(name, blob) for name, blob in self._blobs.items()]
        lines.append(self._total_line(now))
        up = f"\x1b[{self._drawn_lines}F" if self._drawn_lines else ""
        body = "".join(f"{_CLEAR_LINE}{line}\n" for line in lines)
        self._stream.write(up + body)
        self._stream.flush()
        self._drawn_lines = len(lines)
