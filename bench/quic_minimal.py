"""The HTTP/3 yardstick: the least an aioquic server can do to serve a file, for comparison.

Every GET (any path) answers the whole file, read into memory once and handed to aioquic in one
``send_data`` call: no routing, no auth, no flow-control care, nothing but aioquic's own
per-packet work. Drift's HTTP/3 path is measured against this at the same datagram size, loop
and congestion control (at most 16384: aioquic corrupts the STREAM frames of larger packets).
Run it as a process of its own:

    python -m bench.quic_minimal --file BLOB --cert CERT --key KEY --port 4434 \
        [--max-datagram-size 1350] [--loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, QuicEvent

__all__ = ["main", "run_server"]


class _MinimalH3(QuicConnectionProtocol):
    payload: bytes = b""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._http: H3Connection | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._http = H3Connection(self._quic)
        if self._http is None:
            return
        for http_event in self._http.handle_event(event):
            if isinstance(http_event, HeadersReceived):
                self._answer(http_event.stream_id)

    def _answer(self, stream_id: int) -> None:
        assert self._http is not None
        fields = [
            (b":status", b"200"),
            (b"content-length", str(len(self.payload)).encode()),
            (b"content-type", b"application/octet-stream"),
        ]
        self._http.send_headers(stream_id, fields)
        self._http.send_data(stream_id, self.payload, end_stream=True)
        self.transmit()


async def run_server(
    payload: bytes, cert: Path, key: Path, host: str, port: int, datagram_size: int
) -> None:
    _MinimalH3.payload = payload
    configuration = QuicConfiguration(
        is_client=False, alpn_protocols=H3_ALPN, max_datagram_size=datagram_size
    )
    configuration.load_cert_chain(cert, key)
    await serve(host, port, configuration=configuration, create_protocol=_MinimalH3)
    print(f"minimal HTTP/3 server on udp {host}:{port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4434)
    parser.add_argument("--max-datagram-size", type=int, default=1350)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args(argv)
    coroutine = run_server(
        args.file.read_bytes(), args.cert, args.key, args.host, args.port, args.max_datagram_size
    )
    if args.loop == "uvloop":
        import uvloop  # noqa: PLC0415 - only when asked for

        uvloop.run(coroutine)
    else:
        asyncio.run(coroutine)


if __name__ == "__main__":
    main()
