"""``drift serve``: start the registry with the given settings."""

from __future__ import annotations

import logging
import os
import socket
from functools import partial

from drift.config.settings import Settings
from drift.ops import multiproc
from drift.server.auth_startup import AuthStartupError, prepare_auth
from drift.server.secret import load_secret
from drift.server.supervisor import bind_socket, bind_udp_socket, supervise
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
    quic_sockets = _bind_quic(settings, workers) if settings.quic.enabled else []
    if quic_sockets is None:
        return 1
    metrics_dir = multiproc.prepare() if settings.metrics.enabled else None
    try:
        if workers == 1:
            with sockets[0]:
                quic = quic_sockets[0] if quic_sockets else None
                run_worker(settings, sockets[0], secret, 0, None, quic_sock=quic)
            _log.info("stopped")
            return 0
        on_exit = None if metrics_dir is None else partial(multiproc.process_dead, metrics_dir)
        return supervise(settings, secret, sockets, on_exit, quic_sockets)
    finally:
        if metrics_dir is not None:
            multiproc.remove(metrics_dir)


def _bind_quic(settings: Settings, workers: int) -> list[socket.socket] | None:
    """One UDP socket per worker for the HTTP/3 listener, its certificate made ready first;
    None (after logging why) when either is impossible."""
    # Imported only when HTTP/3 is on (the supervisor's memory, shared by forked workers).
    from drift.quic.certificate import CertificateError, prepare_certificate  # noqa: PLC0415

    host, port = settings.quic.bind_address, settings.quic.bind_port
    try:
        certificate = prepare_certificate(settings)
        sockets = [bind_udp_socket(host, port, reuse_port=workers > 1) for _ in range(workers)]
    except CertificateError as exc:
        _log.error("cannot start the HTTP/3 listener: %s", exc)
        return None
    except OSError as exc:
        _log.error("cannot listen on udp %s:%d: %s", host, port, exc.strerror or exc)
        return None
    _log.info(
        "drift HTTP/3 (QUIC) on udp %s:%d; certificate %s, SPKI pin sha256/%s",
        host,
        port,
        "self-signed" if certificate.self_signed else certificate.chain,
        certificate.pin,
        extra={"spki_pin": certificate.pin},
    )
    return sockets
