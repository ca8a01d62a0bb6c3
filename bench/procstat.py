"""Server-side process metrics read from /proc: CPU time of a process tree and its peak RSS."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["RssPeak", "RssSampler", "cpu_seconds", "process_tree"]

_PROC: Final = Path("/proc")
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
# proc(5): fields 14-17 of /proc/<pid>/stat are utime, stime, cutime, cstime; the field list
# after the closing parenthesis of `comm` starts at field 3.
_FIRST_CPU_FIELD: Final = 14 - 3
_CPU_FIELDS: Final = 4


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in (_PROC / str(pid) / "task").iterdir():
            kids.extend(int(k) for k in (task / "children").read_text().split())
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kids


def process_tree(root: int) -> list[int]:
    """The root process and all its live descendants (workers of a pre-fork server)."""
    tree: list[int] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        if (_PROC / str(pid)).exists():
            tree.append(pid)
            pending.extend(_children(pid))
    return tree


def _own_and_reaped_cpu(pid: int) -> float:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rpartition(")")[2].split()
    ticks = fields[_FIRST_CPU_FIELD : _FIRST_CPU_FIELD + _CPU_FIELDS]
    return sum(int(t) for t in ticks) / _CLK_TCK


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of the whole tree so far.

    Each live process counts its own time plus that of the children it has reaped, so a worker
    that exited is still counted once (in its parent) and nothing is counted twice.
    """
    return sum(_own_and_reaped_cpu(pid) for pid in process_tree(root))


def _kib_field(path: Path, field: str) -> int:
    """A ``<field>: <n> kB`` line of a /proc file, in bytes (0 once the process is gone)."""
    try:
        text = path.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in text.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def _rss_bytes(pid: int) -> int:
    return _kib_field(_PROC / str(pid) / "status", "VmRSS:")


def _pss_bytes(pid: int) -> int:
    """Proportional set size: pages shared by forked workers count once across the tree."""
    return _kib_field(_PROC / str(pid) / "smaps_rollup", "Pss:")


@dataclass(frozen=True, slots=True)
class RssPeak:
    total_bytes: int
    largest_process_bytes: int
    samples: int
    pss_total_bytes: int = 0


@dataclass(slots=True)
class _Watched:
    root: int
    pids: list[int]
    total: int = 0
    largest: int = 0
    samples: int = 0
    pss_total: int = 0


class RssSampler:
    """Samples VmRSS of every process of each watched server every `interval` seconds.

    The peak of the sum across a server's processes and the peak of its largest single process
    are kept separately. The process tree is re-read every `refresh_every` samples.
    """

    def __init__(self, interval: float = 0.05, refresh_every: int = 10) -> None:
        self._interval = interval
        self._refresh_every = refresh_every
        self._watched: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def watch(self, name: str, root: int) -> None:
        with self._lock:
            self._watched[name] = _Watched(root, process_tree(root))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, RssPeak]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            return {
                name: RssPeak(w.total, w.largest, w.samples, w.pss_total)
                for name, w in self._watched.items()
            }

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self._interval):
            tick += 1
            with self._lock:
                for w in self._watched.values():
                    if tick % self._refresh_every == 0:
                        w.pids = process_tree(w.root)
                    sizes = [_rss_bytes(pid) for pid in w.pids]
                    w.total = max(w.total, sum(sizes))
                    w.largest = max(w.largest, max(sizes, default=0))
                    w.pss_total = max(w.pss_total, sum(_pss_bytes(pid) for pid in w.pids))
                    w.samples += 1
