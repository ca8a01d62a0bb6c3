"""mDNS tests run on the loopback interface only; the fixtures here prove that multicast works
there, start the out-of-process browser and give every test node ids of its own (so that runs of
the suite side by side on one machine never see each other's services)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.lifecycle import ClosesOnExit

API_SERVICE = "_oci-registry._tcp.local."
QUIC_SERVICE = "_drift-quic._udp.local."
BROWSER_SCRIPT = Path(__file__).with_name("browser.py")
_PROBE_GROUP = "224.0.0.251"

Event = dict[str, Any]


def _multicast_reaches_loopback() -> bool:
    """A datagram sent to the mDNS group through 127.0.0.1 comes back on a socket that joined
    the group on 127.0.0.1 (on a port of its own: nothing mDNS listens to)."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("", 0))
        port = receiver.getsockname()[1]
        membership = socket.inet_aton(_PROBE_GROUP) + socket.inet_aton("127.0.0.1")
        receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        receiver.settimeout(1.0)
        sender.bind(("127.0.0.1", 0))
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sender.sendto(b"drift-probe", (_PROBE_GROUP, port))
        try:
            return receiver.recv(64) == b"drift-probe"
        except OSError:
            return False


def _set_lo_multicast(on: bool) -> bool:
    result = subprocess.run(
        ["ip", "link", "set", "lo", "multicast", "on" if on else "off"],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


@pytest.fixture(scope="session")
def loopback_multicast() -> Iterator[None]:
    """Skips unless mDNS multicast works on 127.0.0.1. On Linux it does even though ``lo`` lacks
    the MULTICAST flag: with ``IP_MULTICAST_IF`` 127.0.0.1 the kernel routes the datagram to
    ``lo``, which hands every packet straight back. Where it does not, the flag is set for the
    session (root only) and cleared afterwards."""
    if _multicast_reaches_loopback():
        yield
        return
    if os.geteuid() != 0 or not _set_lo_multicast(True):
        pytest.skip(
            "multicast to 224.0.0.251 does not come back on 127.0.0.1 here, and setting "
            "`ip link set lo multicast on` needs root"
        )
    try:
        if not _multicast_reaches_loopback():
            pytest.skip("multicast does not work on lo, even with its MULTICAST flag set")
        yield
    finally:
        _set_lo_multicast(False)


@pytest.fixture
def node_id() -> str:
    return f"t{secrets.token_hex(4)}"


class BrowserProcess(ClosesOnExit):
    """``browser.py`` in its own process; ``events`` grows as its lines arrive."""

    def __init__(self, types: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(BROWSER_SCRIPT), *types],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=BROWSER_SCRIPT.parents[2],
            text=True,
        )
        self.events: list[Event] = []
        self._lines: queue.Queue[Event | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda event: event["event"] == "ready", "the browser to start")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def wait_for(self, matches: Callable[[Event], bool], what: str, timeout: float = 10.0) -> Event:
        """The first event (seen before or arriving within ``timeout``) that ``matches``."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if matches(event):
                    return event
            try:
                arrived = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"timed out waiting for {what}; events: {self.events}"
                ) from None
            if arrived is None:
                assert self.process.stderr is not None
                raise AssertionError(f"the browser exited: {self.process.stderr.read()}")
            self.events.append(arrived)

    def close(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def browser(loopback_multicast: None) -> Iterator[Callable[[list[str]], BrowserProcess]]:
    started: list[BrowserProcess] = []

    def start(types: list[str]) -> BrowserProcess:
        started.append(BrowserProcess(types))
        return started[-1]

    yield start
    for process in started:
        process.close()
