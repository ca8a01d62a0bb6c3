"""Early writeback of appended data, so that the fsync of a commit has little left to do.

``sync_file_range(SYNC_FILE_RANGE_WRITE)`` (Linux) starts writing a range of dirty pages to disk
without waiting for it. Issued every few MiB while an upload streams, it overlaps the disk writes
with the transfer instead of paying them all at commit time. Elsewhere it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from typing import Final

__all__ = ["WRITEBACK_STEP", "start_writeback"]

WRITEBACK_STEP: Final = 8 << 20
_SYNC_FILE_RANGE_WRITE: Final = 2


def _no_writeback(fd: int, offset: int, length: int) -> None:
    del fd, offset, length


def _bind() -> Callable[[int, int, int], None]:
    if not sys.platform.startswith("linux"):
        return _no_writeback
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    function = libc.sync_file_range
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int

    def start(fd: int, offset: int, length: int) -> None:
        # Only a hint: a failure (say, a filesystem without support) just leaves it to fsync.
        function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)

    return start


start_writeback: Final = _bind()
