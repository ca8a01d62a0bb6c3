"""Starting Drift and the reference registry (CNCF distribution) as real processes on loopback.

Both servers run in their own process group so that `stop()` and `kill()` reach every worker,
and both use distribution's v2 layout: under ``root/docker/registry/v2``, or in a bucket (S3).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.lifecycle import ClosesOnExit
from tests.support.stores import DirectoryStore, StoredContent
from tests.support.tls import LoopbackPki
from tests.support.tools import require_tool

if TYPE_CHECKING:
    from drift.config.settings import S3Settings

__all__ = ["RunningRegistry", "free_port", "start_drift", "start_reference"]

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LOG_TAIL_BYTES = 4000
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningRegistry(ClosesOnExit):
    name: str
    url: str
    host_port: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    stored: StoredContent | None = None  # where the content is, when not below ``root`` (S3)

    @property
    def content(self) -> StoredContent:
        return DirectoryStore(self.root) if self.stored is None else self.stored

    @property
    def port(self) -> int:
        return int(self.host_port.rpartition(":")[2])

    def pids(self) -> list[int]:
        """The server process and all its descendants (worker processes), alive right now."""
        parents: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                pid, ppid = _pid_and_ppid(stat.read_text())
                parents.setdefault(ppid, []).append(pid)
        found: list[int] = []
        pending = [self.process.pid] if self.process.poll() is None else []
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending.extend(parents.get(pid, []))
        return found

    def stop(self) -> None:
        """SIGTERM to the process group, then SIGKILL whatever is left after 10 s."""
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group at once (what a crash looks like)."""
        self._signal_group(signal.SIGKILL)
        self.process.wait()

    def log_tail(self) -> str:
        return _tail(self.log_path)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def close(self) -> None:
        self.stop()


def start_drift(
    root: Path,
    *,
    workers: int = 1,
    port: int | None = None,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    command: list[str] | None = None,
    inherit_env: bool = True,
    cwd: Path | None = None,
    tls: LoopbackPki | None = None,
) -> RunningRegistry:
    """Drift on 127.0.0.1; ``command`` replaces ``python -m drift serve`` (e.g. a zipapp), and
    without ``inherit_env`` it sees only the DRIFT_* variables set here and in ``env``. With
    ``tls`` it serves HTTPS with that certificate (and is probed trusting only its CA)."""
    port = port or free_port()
    server_env = {
        **(os.environ if inherit_env else {}),
        "DRIFT_BIND_ADDR": f"127.0.0.1:{port}",
        "DRIFT_UI_ADDR": f"127.0.0.1:{free_port()}",
        "DRIFT_FS_ROOT": str(root),
        "DRIFT_STORAGE_BACKEND": "fs",
        "DRIFT_AUTH": "none",
        "DRIFT_WORKERS": str(workers),
        "DRIFT_LOG": "warning",
        "DRIFT_QUIC_ENABLED": "false",
        "DRIFT_MDNS_ENABLED": "false",
        "DRIFT_DRAIN_SECONDS": "0",
        **({} if tls is None else {"DRIFT_TLS_CERT": str(tls.cert), "DRIFT_TLS_KEY": str(tls.key)}),
        **(env or {}),
    }
    command = command or [sys.executable, "-m", "drift", "serve"]
    context = None if tls is None else tls.client_context()
    return _start("drift", command, root, port, server_env, log_path, cwd, context)


def start_reference(
    root: Path,
    *,
    port: int | None = None,
    log_path: Path | None = None,
    s3: S3Settings | None = None,
) -> RunningRegistry:
    """CNCF distribution on ``root`` (its filesystem driver), or with ``s3`` on a bucket through
    its S3 driver: the bucket Drift would use with the same settings (``root`` then holds only
    the config and the log). ``s3.redirect`` turns distribution's presigned blob redirects on."""
    binary = require_tool("docker-registry")
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root.parent / f"{root.name}-reference-{port}.yml"
    storage = _filesystem_storage(root) if s3 is None else _s3_storage(s3)
    config.write_text(_reference_config(storage, port))
    # distribution reads REGISTRY_* variables as config overrides, and its AWS SDK reads AWS_*
    # ones (an AWS_CA_BUNDLE makes it refuse its own HTTP transport): never inherit any.
    server_env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "AWS_"))}
    return _start("reference", [binary, "serve", str(config)], root, port, server_env, log_path)


def _filesystem_storage(root: Path) -> str:
    return f"""\
  filesystem:
    rootdirectory: {root}
"""


def _s3_storage(s3: S3Settings) -> str:
    """storage.s3 of distribution 2.8 (docs/storage-drivers/s3.md). 2.8 always addresses the
    bucket path-style when ``regionendpoint`` is set; ``forcepathstyle`` is the 3.x spelling
    (2.8 ignores it). Its ``rootdirectory`` maps paths to keys as Drift's ``root_directory``."""
    secure = s3.endpoint.startswith("https:")
    return f"""\
  s3:
    regionendpoint: {s3.endpoint}
    region: {s3.region}
    bucket: {s3.bucket}
    accesskey: {s3.access_key}
    secretkey: {s3.secret_key}
    secure: {str(secure).lower()}
    v4auth: true
    forcepathstyle: {str(s3.path_style).lower()}
    rootdirectory: /{s3.root_directory.strip("/")}
  redirect:
    disable: {str(not s3.redirect).lower()}
"""


def _reference_config(storage: str, port: int) -> str:
    return f"""\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
{storage.rstrip()}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: drift-tests-{port}
"""


def _start(
    name: str,
    command: list[str],
    root: Path,
    port: int,
    env: dict[str, str],
    log_path: Path | None,
    cwd: Path | None = None,
    tls: ssl.SSLContext | None = None,
) -> RunningRegistry:
    root.mkdir(parents=True, exist_ok=True)
    log_path = log_path or root.parent / f"{root.name}-{name}-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )
    registry = RunningRegistry(
        name=name,
        url=f"{'http' if tls is None else 'https'}://127.0.0.1:{port}",
        host_port=f"127.0.0.1:{port}",
        root=root,
        process=process,
        log_path=log_path,
    )
    opener = (
        _NO_PROXY
        if tls is None
        else urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls)
        )
    )
    try:
        _wait_ready(registry, opener)
    except BaseException:
        registry.kill()
        raise
    return registry


def _wait_ready(registry: RunningRegistry, opener: urllib.request.OpenerDirector) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            raise RuntimeError(
                f"{registry.name} exited with status {registry.process.returncode} before it "
                f"answered GET /v2/; log tail:\n{registry.log_tail()}"
            )
        try:
            with opener.open(f"{registry.url}/v2/", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as refused:
            if refused.code == 401:  # auth on: the API answers, with a challenge
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"{registry.name} did not answer GET {registry.url}/v2/ with 200 or 401 within "
        f"{READY_TIMEOUT:.0f} s; log tail:\n{registry.log_tail()}"
    )


def _pid_and_ppid(stat: str) -> tuple[int, int]:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may itself contain spaces and ')'.
    pid, _, rest = stat.partition(" (")
    fields = rest.rpartition(") ")[2].split()
    return int(pid), int(fields[1])


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as log:
            log.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            return log.read().decode(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
