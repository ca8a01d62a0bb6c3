"""``drift serve``: start the registry with the given settings."""

from __future__ import annotations

import logging
import os
from functools import partial

from drift.config.settings import Settings
from drift.ops import multiproc
from drift.server.auth_startup import AuthStartupError, prepare_auth
from drift.server.secret import load_secret
from drift.server.supervisor import bind_socket, supervise
from drift.server.worker import run_worker

__all__ = ["serve", "worker_count"]

_log = logging.getLogger("drift")


def worker_count(settings: Settings) -> int:
    return settings.server.workers or os.cpu_count() or 1


def serve(settings: Settings) -> int:
    settings.storage.fs_root.mkdir(parents=True, exist_ok=True)
    secret = load_secret(settings.server.secret, settings.storage.fs_root)
    try:
        prepare_auth(settings)
    except AuthStartupError as exc:
        _log.error("cannot start: %s", exc)
        return 1
    workers = worker_count(settings)
    host, port = settings.server.bind_host, settings.server.bind_port
    try:
        sockets = [bind_socket(host, port, reuse_port=workers > 1)]
        port = sockets[0].getsockname()[1]  # port 0: every worker shares the one picked
        sockets += [bind_socket(host, port, reuse_port=True) for _ in range(workers - 1)]
    except OSError as exc:
        _log.error("cannot listen on %s:%d: %s", host, port, exc.strerror or exc)
        return 1
    _log.info(
        "drift registry API on %s://%s:%d (storage %s)",
        "https" if settings.server.tls_cert else "http",
        host,
        port,
        settings.storage.fs_root.resolve(),
    )
    metrics_dir = multiproc.prepare() if settings.metrics.enabled else None
    try:
        if workers == 1:
            with sockets[0]:
                run_worker(settings, sockets[0], secret, 0, None)
            _log.info("stopped")
            return 0
        on_exit = None if metrics_dir is None else partial(multiproc.process_dead, metrics_dir)
        return supervise(settings, secret, sockets, on_exit)
    finally:
        if metrics_dir is not None:
            multiproc.remove(metrics_dir)
