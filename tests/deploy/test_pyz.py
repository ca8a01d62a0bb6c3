"""The single-file deploy: ``scripts/build-pyz`` makes a zipapp that serves the registry with
nothing but a Python interpreter of the same version (no virtualenv, no installed packages)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.http_client import http_request
from tests.support.servers import start_drift

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 300
# The interpreter the virtualenv was made from: same version and platform, but none of the
# virtualenv's packages.
BARE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="session")
def drift_pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("pyz") / "drift.pyz"
    build = subprocess.run(
        [str(REPO / "scripts" / "build-pyz"), str(output)],
        capture_output=True,
        timeout=BUILD_TIMEOUT,
        check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert build.returncode == 0, build.stderr.decode(errors="replace")
    return output


def test_bare_interpreter_lacks_drift_dependencies() -> None:
    """The precondition that makes the next test meaningful."""
    probe = subprocess.run(
        [str(BARE_PYTHON), "-I", "-c", "import aiohttp"], capture_output=True, check=False
    )
    assert probe.returncode != 0, f"{BARE_PYTHON} has aiohttp installed: the pyz test proves less"


def test_pyz_serves_the_registry_with_only_an_interpreter(drift_pyz: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "SHIV_ROOT": str(workdir / "shiv")}
    command = [str(BARE_PYTHON), str(drift_pyz), "serve"]
    with start_drift(
        workdir / "data", command=command, env=env, inherit_env=False, cwd=workdir
    ) as registry:
        reply = http_request(f"{registry.url}/v2/")
        assert reply.status == 200
        assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        extracted = list((workdir / "shiv").glob("drift.pyz_*/site-packages/aiohttp"))
        assert extracted, "the zipapp did not run from its own extracted dependencies"
        registry.process.terminate()
        assert registry.process.wait(15) == 0, registry.log_tail()
