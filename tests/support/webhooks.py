"""A webhook receiver for tests: an aiohttp server on 127.0.0.1 in a thread of its own.

It records every POST (path, headers, body) and answers 204, except: with ``hang`` it accepts
requests and never answers until stopped, and a path listed in ``failures`` gets 500 to its first
that many requests. ``wait_for`` polls the recordings until a condition holds, so tests wait for
the asynchronous deliveries without fixed sleeps.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.lifecycle import ClosesOnExit

__all__ = ["Delivery", "WebhookReceiver", "signature_of"]


def signature_of(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def events(self) -> list[dict[str, Any]]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        assert isinstance(document.get("events"), list)
        return document["events"]

    def signed_with(self, secret: str) -> bool:
        given = self.headers.get("X-Drift-Signature", "")
        return hmac.compare_digest(given, signature_of(secret, self.body))


class WebhookReceiver(ClosesOnExit):
    def __init__(self, *, hang: bool = False, failures: Mapping[str, int] | None = None) -> None:
        self.hang = hang
        self.failures = dict(failures or {})
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="webhook-receiver", daemon=True)
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("webhook receiver did not start")
        return self

    def stop(self) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def close(self) -> None:
        self.stop()

    def received(self, path: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if path is None or d.path == path]

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        return [event for delivery in self.received(path) for event in delivery.events]

    def wait_for(self, condition: Callable[[WebhookReceiver], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s: {self.deliveries}")
            time.sleep(0.02)

    # -- the server thread ---------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._ready.set()
        await self._stopping.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.deliveries.append(Delivery(request.path, dict(request.headers), body))
            earlier = sum(1 for d in self.deliveries if d.path == request.path)
        if self.hang:
            assert self._stopping is not None
            await self._stopping.wait()
        if earlier <= self.failures.get(request.path, 0):
            return web.Response(status=500)
        return web.Response(status=204)
