"""The systemd unit example: ``systemd-analyze verify`` accepts it, and its stop timeout leaves
Drift the time its graceful shutdown may take."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drift.config.settings import ServerSettings
from drift.server.shutdown import stop_grace_seconds

pytestmark = pytest.mark.deploy

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "drift.service"
EXEC = "/opt/drift/bin/drift"


def service_section() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


def test_unit_runs_drift_as_an_unprivileged_hardened_service() -> None:
    service = service_section()
    assert service["ExecStart"] == f"{EXEC} serve --config /etc/drift/drift.toml"
    assert service["User"] not in {"", "root", "0"}
    assert service["KillSignal"] == "SIGTERM"
    # SIGTERM to the main process only: the supervisor passes it on once to its workers.
    assert service["KillMode"] == "mixed"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/drift"
    stop_timeout = service["TimeoutStopSec"]
    assert stop_timeout.endswith("s")
    assert int(stop_timeout[:-1]) > stop_grace_seconds(ServerSettings()), (
        "TimeoutStopSec must exceed drain + shutdown timeout + wind-down of the defaults"
    )


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this checkout's drift command.
    drift = Path(sys.executable).with_name("drift")
    assert drift.exists()
    unit = tmp_path / "drift.service"
    unit.write_text(UNIT.read_text().replace(EXEC, str(drift)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), f"systemd-analyze warned:\n{result.stderr}"
