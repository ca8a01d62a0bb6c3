"""The ``drift`` and ``driftctl`` command frames."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from drift import __version__
from drift.cli import drift, driftctl
from drift.config.loader import load_settings
from tests.config.conftest import clean_environ


def test_drift_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        drift.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"drift {__version__}\n"


def test_python_m_drift_is_drift(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "drift", "--help"],
        env=clean_environ(),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert b"serve" in result.stdout


def test_drift_without_a_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        drift.main([])
    assert exited.value.code == 2


def test_config_show_prints_effective_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[server]\nworkers = 3\n[log]\nformat = 'text'\n", encoding="utf-8")
    monkeypatch.setenv("DRIFT_BIND_ADDR", "127.0.0.1:6000")
    monkeypatch.setenv("DRIFT_SECRET", "a-secret-of-enough-length")
    assert driftctl.main(["config", "show", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# effective configuration: defaults, config file {config}, ")
    document = tomllib.loads(out)
    assert document["server"]["workers"] == 3
    assert document["server"]["bind_addr"] == "127.0.0.1:6000"
    assert document["server"]["secret"] == "<set>"
    assert document["log"]["format"] == "text"
    assert "a-secret-of-enough-length" not in out


def test_driftctl_config_error_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRIFT_REGISTRY_CATALOG_PAGE_SIZE", "0")
    assert driftctl.main(["config", "show"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "config error: registry.catalog_page_size (DRIFT_REGISTRY_CATALOG_PAGE_SIZE): "
        "expected an integer in 1..10000, got '0'\n"
    )


def test_purge_rejects_a_bad_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        driftctl.main(["uploads", "purge", "--older-than", "soon"])
    assert exited.value.code == 2
    assert "expected a duration such as '168h'" in capsys.readouterr().err


def _upload(root: Path, repo: str, uuid: str, started: dt.datetime) -> Path:
    """An upload session in distribution's v2 layout, started at ``started``."""
    session = root / "docker/registry/v2/repositories" / repo / "_uploads" / uuid
    session.mkdir(parents=True)
    (session / "data").write_bytes(b"partial")
    (session / "startedat").write_text(started.strftime("%Y-%m-%dT%H:%M:%SZ"))
    stamp = started.timestamp()
    for path in (session / "data", session / "startedat", session):
        os.utime(path, (stamp, stamp))
    return session


def test_uploads_purge_removes_only_old_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("drift.server.maintenance", reason="the lead's purge_uploads")
    root = tmp_path / "data"
    now = dt.datetime.now(dt.UTC)
    old = _upload(
        root, "library/app", "11111111-1111-4111-8111-111111111111", now - dt.timedelta(hours=3)
    )
    new = _upload(root, "library/app", "22222222-2222-4222-8222-222222222222", now)
    monkeypatch.setenv("DRIFT_FS_ROOT", str(root))
    assert load_settings(None, os.environ).storage.fs_root == root
    assert driftctl.main(["uploads", "purge", "--older-than", "1h"]) == 0
    assert capsys.readouterr().out == "purged 1 upload(s) older than 1h\n"
    assert not old.exists()
    assert new.exists()
