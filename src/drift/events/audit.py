"""The audit trail: one JSON line per recorded event, appended to ``<data dir>/.drift/audit.jsonl``.

Several worker processes (and nodes sharing a directory) append to the same file. Each line is
written with one ``os.write`` on a descriptor opened with ``O_APPEND``, so the kernel places every
line whole at the end of the file and lines of different writers never interleave. The file is
opened per write, so an operator can rotate it (rename, then the next line creates a new file).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Final

import orjson

from drift.events.model import RecordedEvent
from drift.storage.executor import run_blocking

__all__ = ["AUDIT_FILE", "AuditLog", "audit_document", "audit_path"]

_log = logging.getLogger(__name__)

AUDIT_FILE: Final = "audit.jsonl"
_FLAGS: Final = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


def audit_path(data_dir: Path) -> Path:
    return data_dir / ".drift" / AUDIT_FILE


def audit_document(record: RecordedEvent) -> dict[str, Any]:
    """The line of ``record``: who, what, when, from where, the result and the subject of it."""
    event, request = record.event, record.request
    document: dict[str, Any] = {
        "time": record.timestamp,
        "id": record.id,
        "kind": event.kind.value,
        "result": event.result.value,
        "actor": record.actor,
        "addr": request.addr,
        "request_id": request.id,
        "method": request.method,
        "repository": event.repository,
        "digest": event.digest,
        "tag": event.tags[0] if event.tags else None,
    }
    optional = {
        "tags": list(event.tags) if len(event.tags) > 1 else None,
        "media_type": event.media_type,
        "size": event.size,
        "previous": event.previous,
        "source": event.source,
        "detail": event.detail,
        "useragent": request.useragent,
    }
    document.update((key, value) for key, value in optional.items() if value is not None)
    return document


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.failures = 0

    def prepare(self) -> None:
        """Create the directory (owner-only: the trail says who did what)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def append(self, record: RecordedEvent) -> None:
        """Write the line off the event loop; a failure is logged and counted, never raised."""
        line = orjson.dumps(audit_document(record)) + b"\n"
        try:
            await run_blocking(self._write, line)
        except OSError as exc:
            self.failures += 1
            _log.error("cannot append to the audit log %s: %s", self.path, exc)

    def _write(self, line: bytes) -> None:
        fd = os.open(self.path, _FLAGS, 0o600)
        try:
            written = os.write(fd, line)
        finally:
            os.close(fd)
        if written != len(line):  # only a full disk cuts a regular-file write short
            raise OSError(f"short write: {written} of {len(line)} bytes")
