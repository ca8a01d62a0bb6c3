"""The access log: one line per request, in the format of ``drift.logsetup`` (JSON or text).

Lines bypass ``logging`` (too slow for the request path): they are rendered with orjson into a
buffer that ``flush`` writes to stderr, every ``drift.ops.instrument.FLUSH_INTERVAL``, when
the buffer is large, and at shutdown. On a pipe or terminal each write holds whole lines and at
most ``PIPE_BUF`` bytes, so lines of several worker processes never interleave.

A line holds no secret: no header values, no query string (upload ``_state`` tokens live there),
only the percent-encoded path, which the OCI API fills with names, tags and digests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import select
import stat
import time
from typing import Final

import orjson

from drift.config.settings import LogFormat

__all__ = ["LOGGER_NAME", "AccessLog"]

LOGGER_NAME: Final = "drift.access"
_BUFFER_LIMIT: Final = 64 * 1024
_REGULAR_FILE_WRITE: Final = 1 << 20


def _rfc3339(now: float) -> str:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AccessLog:
    def __init__(self, fmt: LogFormat, level: int, fd: int = 2) -> None:
        self.info_enabled = level <= logging.INFO
        self.debug_enabled = level <= logging.DEBUG
        self._json = fmt is LogFormat.JSON
        self._fd = fd
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            regular = False
        self._write_limit = _REGULAR_FILE_WRITE if regular else select.PIPE_BUF
        self._buffer = bytearray()  # one buffer: holding each line's bytes object is slower
        self._ts_second = -1
        self._ts_prefix = ""

    def _timestamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._ts_second:  # format the date and time once per second
            self._ts_second = second
            self._ts_prefix = _rfc3339(second)[:-5]  # without ".000Z"
        return f"{self._ts_prefix}.{int((now - second) * 1000):03d}Z"

    def request(
        self,
        *,
        debug: bool,
        request_id: str,
        method: str,
        path: str,
        route: str,
        repository: str | None,
        user: str | None,
        status: int,
        bytes_in: int,
        bytes_out: int,
        seconds: float,
        transport: str,
        remote: str | None,
    ) -> None:
        """Append one line (``debug``: a probe or scrape, logged at debug level only)."""
        if not (self.debug_enabled if debug else self.info_enabled):
            return
        message = f"{method} {path} {status}"
        level = "debug" if debug else "info"
        entry = {
            "ts": self._timestamp(),
            "level": level,
            "logger": LOGGER_NAME,
            "msg": message,
            "request_id": request_id,
            "method": method,
            "path": path,
            "route": route,
            "repository": repository,
            "user": user,
            "status": status,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "duration_ms": int(seconds * 1_000_000) / 1000,  # microsecond resolution
            "transport": transport,
            "remote": remote,
        }
        if self._json:
            line = orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
        else:
            extras = "".join(f" {k}={v!r}" for k, v in itertools.islice(entry.items(), 4, None))
            text = f"{entry['ts']} {level.upper():<7} {LOGGER_NAME}: {message}{extras}\n"
            line = text.encode()
        self._buffer += line
        if len(self._buffer) >= _BUFFER_LIMIT:
            self.flush()

    def flush(self) -> None:
        data, self._buffer = self._buffer, bytearray()
        start = 0
        while start < len(data):
            end = len(data)
            if end - start > self._write_limit:  # cut after the last whole line that fits
                cut = data.rfind(b"\n", start, start + self._write_limit)
                end = cut + 1 if cut >= start else data.find(b"\n", start) + 1 or end
            self._write(memoryview(data)[start:end])
            start = end

    def _write(self, view: memoryview) -> None:
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            pass  # stderr gone or full: losing access lines must not stop serving
