"""Which server process holds a TCP connection (Linux ``/proc``), to prove that requests of
one test really reached different worker processes."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["connection_owner"]

_ESTABLISHED = "01"


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def _server_side_inode(server_port: int, client_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state != _ESTABLISHED:
                continue
            if _port(local) == server_port and _port(remote) == client_port:
                return inode
    return None


def connection_owner(pids: list[int], server_port: int, client_port: int) -> int | None:
    """The pid among ``pids`` whose file table holds the server end of the connection."""
    inode = _server_side_inode(server_port, client_port)
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            descriptors = list(fd_dir.iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) == wanted:
                    return pid
            except OSError:
                continue
    return None
