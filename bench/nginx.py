"""The machine's ceiling: Debian's nginx serving the benchmark file with sendfile on loopback."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["Nginx", "start_nginx"]

_READY_TIMEOUT: Final = 20.0
_STOP_TIMEOUT: Final = 10.0
_TEMP_PATHS: Final = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def _config(prefix: Path, docroot: Path, port: int) -> str:
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {name}_temp_path {prefix / name};" for name in _TEMP_PATHS)
    return f"""\
{user}
daemon off;
master_process on;
worker_processes auto;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
{temp}
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {docroot};
    }}
}}
"""


@dataclass
class Nginx:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    prefix: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _log_tail(prefix: Path) -> str:
    log = prefix / "error.log"
    return log.read_text()[-2000:] if log.exists() else ""


def start_nginx(prefix: Path, docroot: Path, port: int) -> Nginx:
    """Serve `docroot` at http://127.0.0.1:`port`/ from a config generated under `prefix`."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix.mkdir(parents=True)
    config = prefix / "nginx.conf"
    config.write_text(_config(prefix, docroot, port))
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    nginx = Nginx("127.0.0.1", port, process, prefix)
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited {process.returncode}: {_log_tail(prefix)}")
        try:
            socket.create_connection((nginx.host, port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return nginx
    nginx.stop()
    raise RuntimeError(f"nginx did not listen on {port}: {_log_tail(prefix)}")
