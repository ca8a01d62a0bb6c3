"""An HTTP/1.1 relay that resends an S3 server's answers with ``Transfer-Encoding: chunked``.

AWS sends listings chunked, SeaweedFS with a ``Content-Length``: behind this relay, the driver's
own HTTP client meets AWS's framing with a real S3 server's content. Each answer is cut into
chunks of uneven sizes, the first with a chunk extension, and ends with a trailer field (RFC
9112 section 7.1), which a reader must skip. Requests without a body (GET, HEAD) only.
"""

from __future__ import annotations

import asyncio
from typing import Final

from tests.support.loopthread import ThreadedServer

__all__ = ["Rechunker"]

_SIZES: Final = (1, 7, 100, 4096, 65536)  # chunk sizes, in turn


class Rechunker(ThreadedServer):
    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self._upstream_port = upstream_port
        self.answers = 0  # answers resent chunked

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        serving = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await _read_head(reader):
                status, headers, body = await self._forward(head)
                writer.write(_chunked(status, headers, body))
                await writer.drain()
                self.answers += 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _forward(self, head: bytes) -> tuple[bytes, list[bytes], bytes]:
        """The upstream's answer to ``head``: status line, header lines, whole body."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        try:
            writer.write(head)
            answer = await _read_head(reader)
            status, *headers = answer.rstrip(b"\r\n").split(b"\r\n")
            length = _content_length(headers)
            body = await reader.readexactly(length) if not head.startswith(b"HEAD") else b""
        finally:
            writer.close()
        kept = [line for line in headers if not _named(line, b"content-length", b"connection")]
        return status, kept, body


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as cut:
        if cut.partial:
            raise
        return b""


def _content_length(headers: list[bytes]) -> int:
    for line in headers:
        if _named(line, b"content-length"):
            return int(line.split(b":", 1)[1])
    return 0


def _named(line: bytes, *names: bytes) -> bool:
    return line.split(b":", 1)[0].strip().lower() in names


def _chunked(status: bytes, headers: list[bytes], body: bytes) -> bytes:
    framed = [status, *headers, b"Transfer-Encoding: chunked", b"", b""]
    out = bytearray(b"\r\n".join(framed))
    at, turn = 0, 0
    while at < len(body):
        piece = body[at : at + _SIZES[turn % len(_SIZES)]]
        extension = b";note=first" if turn == 0 else b""
        out += b"%x%s\r\n%s\r\n" % (len(piece), extension, piece)
        at += len(piece)
        turn += 1
    out += b"0\r\nX-Relayed-By: rechunker\r\n\r\n"
    return bytes(out)
