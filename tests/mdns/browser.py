"""A DNS-SD browser in its own process, independent of Drift's code: python-zeroconf only,
bound to 127.0.0.1 (it sends on the loopback interface only).

``python browser.py TYPE...`` prints ``{"event": "ready"}`` once browsing, then one JSON line per
change, each with ``at`` (its ``time.monotonic()``): ``added``/``updated`` with the resolved
records, ``removed`` when a goodbye (or expiry) withdrew the instance. It stops when its standard
input closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

RESOLVE_TIMEOUT_MS = 3000


def emit(**fields: object) -> None:
    print(json.dumps({**fields, "at": round(time.monotonic(), 3)}), flush=True)


async def resolve(zc: Zeroconf, event: str, service_type: str, name: str) -> None:
    info = AsyncServiceInfo(service_type, name)
    if not await info.async_request(zc, RESOLVE_TIMEOUT_MS):
        emit(event="unresolved", type=service_type, name=name)
        return
    emit(
        event=event,
        type=service_type,
        name=name,
        port=info.port,
        server=info.server,
        addresses=info.parsed_addresses(IPVersion.V4Only),
        txt=info.decoded_properties,
    )


async def main(types: list[str]) -> None:
    loop = asyncio.get_running_loop()
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"])
    tasks: set[asyncio.Task[None]] = set()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            emit(event="removed", type=service_type, name=name)
            return
        event = "added" if state_change is ServiceStateChange.Added else "updated"
        task = loop.create_task(resolve(zeroconf, event, service_type, name))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    browser = AsyncServiceBrowser(aiozc.zeroconf, types, handlers=[on_change])
    stdin_closed = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), stdin_closed.set)
    emit(event="ready")
    await stdin_closed.wait()
    await browser.async_cancel()
    await aiozc.async_close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
