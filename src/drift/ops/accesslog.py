"""The access log: one line per request, in the format of ``drift.logsetup`` (JSON or text).

Lines bypass ``logging`` (too slow for the request path): they are rendered from batches of
``RequestRecord`` (``drift.ops.records``), in the order the requests ended, and kept in a list
that ``flush`` writes to stderr, every ``drift.ops.instrument.FLUSH_INTERVAL``, when it holds
``_LINES_LIMIT`` lines, and at shutdown. On a pipe or terminal each write holds whole lines and
at most ``PIPE_BUF`` bytes, so lines of several worker processes never interleave.

A JSON line is filled into a template when every text field is printable ASCII without ``"``
or ``\\`` (nothing to escape: the usual case, the path being percent-encoded); otherwise orjson
renders the same object, and both give the same bytes. The template's text around what changes
with every request (time, request id, duration) is cached per ``RequestKey``. ``duration_ms``
has three decimals (microsecond resolution), ``ts`` is the end of the response.

A line holds no secret: no header values, no query string (upload ``_state`` tokens live there),
only the percent-encoded path, which the OCI API fills with names, tags and digests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import select
import stat
from collections.abc import Iterable
from typing import Final

import orjson

from drift.config.settings import LogFormat
from drift.ops.records import ENDED, REQUEST_ID, STARTED, RequestKey, RequestRecord

__all__ = ["LOGGER_NAME", "AccessLog"]

LOGGER_NAME: Final = "drift.access"
_LINES_LIMIT: Final = 256
_QUIET_ROUTES: Final = frozenset({"healthz", "readyz", "metrics"})  # RouteId values
_REGULAR_FILE_WRITE: Final = 1 << 20
_CACHE_LIMIT: Final = 1024
_CACHED_PATH_LIMIT: Final = 512
_DECIMALS: Final = tuple(f".{n:03d}" for n in range(1000))  # formatting a float is slow
_MILLISECONDS: Final = tuple(f"{decimals}Z" for decimals in _DECIMALS)

# A JSON line is '{"ts":"<ts>' + [0] + request_id + [1] + duration_ms + [2].
_Fragments = tuple[str, str, str]
# Sentinels (compared by identity): no line at this level; a line rendered by orjson or as text.
_SKIP: Final[_Fragments] = ("", "", "skip")
_RENDER: Final[_Fragments] = ("", "", "render")


def _rfc3339_second(second: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of a Unix second, in UTC."""
    moment = dt.datetime.fromtimestamp(second, dt.UTC)
    return moment.isoformat(timespec="seconds").removesuffix("+00:00")


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
        self._lines: list[str] = []
        self._cache: dict[RequestKey, _Fragments] = {}
        self._ts_milli = -1
        self._ts = ""
        self._ts_second = -1
        self._ts_prefix = ""

    def _tick(self, milli: int) -> str:
        """The timestamp of a new millisecond (the date and time formatted once per second)."""
        second, fraction = divmod(milli, 1000)
        if second != self._ts_second:
            self._ts_second = second
            self._ts_prefix = _rfc3339_second(second)
        self._ts_milli = milli
        self._ts = self._ts_prefix + _MILLISECONDS[fraction]
        return self._ts

    def _fragments_of(self, key: RequestKey) -> _Fragments:
        """The JSON text around a line's varying fields, ``_SKIP`` (not logged at this level)
        or ``_RENDER`` (a field needs escaping, or the format is text); cached per ``key``."""
        method, path, route, repository, user, status, bytes_in, bytes_out, transport, remote = key
        if route in _QUIET_ROUTES:
            level = "debug" if self.debug_enabled else None
        else:
            level = "info" if self.info_enabled else None
        probe = f"{method}{path}{route}{repository}{user}{transport}{remote}"
        fragments: _Fragments
        if level is None:
            fragments = _SKIP
        elif not (
            self._json
            and probe.isascii()
            and probe.isprintable()
            and '"' not in probe
            and "\\" not in probe
        ):
            fragments = _RENDER
        else:
            repository_json = "null" if repository is None else f'"{repository}"'
            user_json = "null" if user is None else f'"{user}"'
            remote_json = "null" if remote is None else f'"{remote}"'
            fragments = (
                f'","level":"{level}","logger":"{LOGGER_NAME}","msg":"{method} {path} {status}",'
                '"request_id":"',
                f'","method":"{method}","path":"{path}","route":"{route}",'
                f'"repository":{repository_json},"user":{user_json},"status":{status},'
                f'"bytes_in":{bytes_in},"bytes_out":{bytes_out},"duration_ms":',
                f',"transport":"{transport}","remote":{remote_json}}}\n',
            )
        if len(path) <= _CACHED_PATH_LIMIT:  # bounds the cache's memory, whatever clients send
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = fragments
        return fragments

    def add_requests(self, records: Iterable[RequestRecord], wall_offset: float) -> None:
        """Append one line per request (probes and scrapes: at debug level only);
        ``wall_offset`` turns the records' perf_counter readings into Unix time."""
        lines = self._lines
        cache = self._cache
        key: RequestKey | None = None
        fragments = _SKIP
        milli, ts = self._ts_milli, self._ts
        for record in records:
            if record[:10] != key:  # consecutive requests for one URL share their fragments
                key = record[:10]  # the RequestKey
                fragments = cache.get(key) or self._fragments_of(key)
            if fragments is _SKIP:
                continue
            started, ended = record[STARTED], record[ENDED]
            if int((ended + wall_offset) * 1000) != milli:
                milli = int((ended + wall_offset) * 1000)
                ts = self._tick(milli)
            micros = int((ended - started) * 1_000_000)
            if fragments is _RENDER:
                lines.append(self._render(key, record[REQUEST_ID], micros))
            else:
                before_id, before_duration, after = fragments
                lines.append(
                    f'{{"ts":"{ts}{before_id}{record[REQUEST_ID]}{before_duration}'
                    f"{micros // 1000}{_DECIMALS[micros % 1000]}{after}"
                )
        if len(lines) >= _LINES_LIMIT:
            self.flush()

    def _render(self, key: RequestKey, request_id: str, micros: int) -> str:
        method, path, route, repository, user, status, bytes_in, bytes_out, transport, remote = key
        duration = f"{micros // 1000}{_DECIMALS[micros % 1000]}"
        entry: dict[str, object] = {
            "ts": self._ts,
            "level": "debug" if route in _QUIET_ROUTES else "info",
            "logger": LOGGER_NAME,
            "msg": f"{method} {path} {status}",
            "request_id": request_id,
            "method": method,
            "path": path,
            "route": route,
            "repository": repository,
            "user": user,
            "status": status,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "duration_ms": orjson.Fragment(duration) if self._json else micros / 1000,
            "transport": transport,
            "remote": remote,
        }
        if not self._json:
            return _text_line(entry)
        try:
            return orjson.dumps(entry).decode() + "\n"
        except orjson.JSONEncodeError:  # a lone surrogate (an undecodable path): escape it
            entry["duration_ms"] = micros / 1000
            return json.dumps(entry, separators=(",", ":")) + "\n"

    def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        data = "".join(lines).encode(errors="backslashreplace")
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


def _text_line(entry: dict[str, object]) -> str:
    extras = "".join(f" {k}={v!r}" for k, v in itertools.islice(entry.items(), 4, None))
    level = str(entry["level"]).upper()
    return f"{entry['ts']} {level:<7} {LOGGER_NAME}: {entry['msg']}{extras}\n"
