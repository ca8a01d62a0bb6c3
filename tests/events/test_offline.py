"""Events recorded outside a request (driftctl, start-up): one audit line, or a False."""

from __future__ import annotations

import json
from pathlib import Path

from drift.config.settings import AuditSettings, Settings, StorageSettings
from drift.events.model import EventKind, RegistryEvent
from drift.events.offline import emit_offline


def test_one_audit_line_with_the_server_shape(tmp_path: Path) -> None:
    settings = Settings(storage=StorageSettings(fs_root=tmp_path))
    event = RegistryEvent(EventKind.TOKEN_REVOKE, actor="driftctl:ops", detail="token x revoked")
    assert emit_offline(settings, event)
    assert emit_offline(settings, event)
    lines = (tmp_path / ".drift" / "audit.jsonl").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["kind"] == "token.revoke"
    assert first["actor"] == "driftctl:ops"
    assert first["detail"] == "token x revoked"
    assert first["request_id"] is None
    assert first["time"].endswith("Z")
    assert first["id"] != second["id"]
    assert (tmp_path / ".drift").stat().st_mode & 0o777 == 0o700


def test_nothing_when_audit_is_off(tmp_path: Path) -> None:
    settings = Settings(storage=StorageSettings(fs_root=tmp_path), audit=AuditSettings(False))
    assert emit_offline(settings, RegistryEvent(EventKind.PERMISSION_CHANGE, detail="x"))
    assert not (tmp_path / ".drift").exists()


def test_false_when_the_line_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / ".drift" / "audit.jsonl").mkdir(parents=True)  # a directory where the file goes
    settings = Settings(storage=StorageSettings(fs_root=tmp_path))
    assert not emit_offline(settings, RegistryEvent(EventKind.PERMISSION_CHANGE, detail="x"))
    (tmp_path / "blocked").write_text("a file where the data directory goes")
    settings = Settings(storage=StorageSettings(fs_root=tmp_path / "blocked"))
    assert not emit_offline(settings, RegistryEvent(EventKind.PERMISSION_CHANGE, detail="x"))
