"""Debian's nginx as a TLS reverse proxy in front of a registry on loopback, run as the test user.

The site configuration is the documented recipe ``deploy/nginx/drift.conf`` itself: only its
listen port, upstream address and certificate paths are substituted (each must occur exactly
once, so a recipe that changes shape fails here instead of going untested). nginx runs in the
foreground as a single process with every path (pid, logs, temporary files) under a temp prefix.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.lifecycle import ClosesOnExit
from tests.support.tls import LoopbackPki
from tests.support.tools import require_tool

__all__ = ["RECIPE", "RunningNginx", "render_site", "start_nginx"]

RECIPE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "drift.conf"
READY_TIMEOUT = 15.0

_MAIN_CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 256;
}}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/drift.conf;
}}
"""


@dataclass
class RunningNginx(ClosesOnExit):
    port: int
    prefix: Path
    process: subprocess.Popen[bytes]

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def error_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.prefix / "error.log").read_text(errors="replace")[-4000:]
        return "(no error log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.stop()


def _substitute(text: str, old: str, new: str) -> str:
    count = text.count(old)
    assert count == 1, f"{RECIPE} should contain {old!r} once, found it {count} times"
    return text.replace(old, new)


def render_site(listen_port: int, upstream_port: int, pki: LoopbackPki) -> str:
    site = RECIPE.read_text()
    site = _substitute(site, "listen 443 ssl;", f"listen 127.0.0.1:{listen_port} ssl;")
    site = _substitute(site, "server 127.0.0.1:5000;", f"server 127.0.0.1:{upstream_port};")
    site = _substitute(site, "/etc/ssl/drift/fullchain.pem", str(pki.cert))
    return _substitute(site, "/etc/ssl/drift/privkey.pem", str(pki.key))


def start_nginx(
    prefix: Path, listen_port: int, upstream_port: int, pki: LoopbackPki
) -> RunningNginx:
    binary = require_tool("nginx")
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "drift.conf").write_text(render_site(listen_port, upstream_port, pki))
    config = prefix / "nginx.conf"
    config.write_text(_MAIN_CONFIG.format(prefix=prefix))
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr.decode(errors="replace")
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    nginx = RunningNginx(listen_port, prefix, process)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{nginx.error_log()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", listen_port), 1):
            return nginx
        time.sleep(0.05)
    nginx.stop()
    raise RuntimeError(f"nginx did not listen on {listen_port}:\n{nginx.error_log()}")
