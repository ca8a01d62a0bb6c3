"""Webhook delivery: per endpoint, a bounded queue and one sender task in each worker process.

``publish`` only puts the event on the queues of the endpoints that subscribed to it and returns:
a push never waits for a receiver. When a queue is full the event is dropped, counted and logged.
Each sender takes what its queue holds (up to ``MAX_BATCH`` events) into one envelope and POSTs it,
retrying network errors, timeouts, 408, 429 and 5xx with exponential backoff up to the configured
number of attempts; every attempt of a batch carries the same body, signature and
``X-Drift-Delivery`` id, so a receiver can drop duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiohttp

from drift import __version__
from drift.config.settings import WebhookEndpoint, WebhookSettings
from drift.events.envelope import (
    ENVELOPE_MEDIA_TYPE,
    SIGNATURE_HEADER,
    EventSource,
    envelope_body,
    matches,
    sign,
)
from drift.events.model import EventKind, RecordedEvent

__all__ = ["MAX_BATCH", "DeliveryStats", "EndpointSender", "WebhookDispatcher"]

_log = logging.getLogger(__name__)

MAX_BATCH: Final = 32
_MAX_DELAY: Final = 300.0
_DROP_LOG_INTERVAL: Final = 10.0
_RETRIED_STATUSES: Final = frozenset({408, 429})


def _origin(url: str) -> str:
    """What logs may show of an endpoint: its path and query can hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0  # events accepted by the receiver
    dropped: int = 0  # events refused because the queue was full
    failed: int = 0  # events given up after the last attempt or a permanent refusal


class EndpointSender:
    def __init__(
        self, endpoint: WebhookEndpoint, settings: WebhookSettings, source: EventSource
    ) -> None:
        self.endpoint = endpoint
        self.stats = DeliveryStats()
        self.origin = _origin(endpoint.url)
        self._settings = settings
        self._source = source
        self._queue: asyncio.Queue[RecordedEvent] = asyncio.Queue(settings.queue_size)
        self._timeout = aiohttp.ClientTimeout(total=endpoint.timeout_seconds)
        self._unlogged_drops = 0
        self._last_drop_log = -_DROP_LOG_INTERVAL

    def offer(self, record: RecordedEvent) -> None:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            self._unlogged_drops += 1
            now = time.monotonic()
            if now - self._last_drop_log >= _DROP_LOG_INTERVAL:
                _log.warning(
                    "webhook queue for %s is full: dropped %d event(s) (%d in total)",
                    self.origin,
                    self._unlogged_drops,
                    self.stats.dropped,
                )
                self._unlogged_drops = 0
                self._last_drop_log = now

    async def drained(self) -> None:
        await self._queue.join()

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            delivered = False
            try:
                delivered = await self._deliver(session, envelope_body(batch, self._source))
            except Exception:  # a bug must not silence the endpoint for the process's life
                _log.exception("webhook delivery to %s failed", self.origin)
            finally:
                if delivered:
                    self.stats.delivered += len(batch)
                else:
                    self.stats.failed += len(batch)
                for _ in batch:
                    self._queue.task_done()

    async def _deliver(self, session: aiohttp.ClientSession, body: bytes) -> bool:
        headers = {
            "Content-Type": ENVELOPE_MEDIA_TYPE,
            "User-Agent": f"drift/{__version__}",
            "X-Drift-Delivery": str(uuid.uuid4()),
        }
        if self.endpoint.secret:
            headers[SIGNATURE_HEADER] = sign(self.endpoint.secret, body)
        attempts = self._settings.max_attempts
        for attempt in range(1, attempts + 1):
            failure = await self._attempt(session, body, headers)
            if failure is None:
                return True
            problem, retry = failure
            if not retry or attempt == attempts:
                _log.error(
                    "webhook delivery to %s failed (%s) after %d attempt(s); events dropped",
                    self.origin,
                    problem,
                    attempt,
                )
                return False
            delay = min(self._settings.backoff_seconds * 2.0 ** (attempt - 1), _MAX_DELAY)
            delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
            _log.warning(
                "webhook delivery to %s failed (%s); retry %d of %d in %.1f s",
                self.origin,
                problem,
                attempt,
                attempts - 1,
                delay,
            )
            await asyncio.sleep(delay)
        return False

    async def _attempt(
        self, session: aiohttp.ClientSession, body: bytes, headers: dict[str, str]
    ) -> tuple[str, bool] | None:
        """None when the receiver accepted the body, else what went wrong and whether to retry."""
        try:
            async with session.post(
                self.endpoint.url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
        except TimeoutError:
            return f"no answer within {self.endpoint.timeout_seconds:g} s", True
        except (aiohttp.ClientError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}".replace(self.endpoint.url, self.origin), True
        if 200 <= status < 300:
            return None
        return f"status {status}", status >= 500 or status in _RETRIED_STATUSES


class WebhookDispatcher:
    """The senders of one worker process; ``start`` and ``close`` run on its event loop."""

    def __init__(self, settings: WebhookSettings, source: EventSource) -> None:
        self.senders = tuple(EndpointSender(e, settings, source) for e in settings.endpoints)
        self._actions = frozenset(action for e in settings.endpoints for action in e.actions)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def wants(self, kind: EventKind) -> bool:
        action = kind.action
        return action is not None and action.value in self._actions

    def publish(self, record: RecordedEvent) -> None:
        for sender in self.senders:
            if matches(sender.endpoint, record):
                sender.offer(record)

    async def start(self) -> None:
        if not self.senders or self._session is not None:
            return
        # No cookies and no proxy from the environment: each POST stands on its own.
        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        self._tasks = [
            asyncio.create_task(sender.run(self._session), name=f"webhooks {sender.origin}")
            for sender in self.senders
        ]

    async def close(self, grace: float) -> None:
        """Give queued events up to ``grace`` seconds to go out, then stop."""
        if self._tasks:
            drained = asyncio.gather(*(sender.drained() for sender in self.senders))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drained, grace)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None
