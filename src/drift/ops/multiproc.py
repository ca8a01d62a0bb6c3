"""The per-run directory of prometheus-client's multiprocess mode.

Every process that records metrics writes its values into memory-mapped files of this directory;
a scrape served by any worker sums them all. ``prepare`` must run before any worker imports
``prometheus_client`` (it picks its value class from ``PROMETHEUS_MULTIPROC_DIR`` at import),
``process_dead`` after a worker exits (drops its ``livesum`` gauges), ``remove`` at exit.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Final

__all__ = ["ENV", "prepare", "process_dead", "remove"]

ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


def prepare() -> Path:
    """A fresh, private directory for this run, exported to the workers through the env."""
    path = Path(tempfile.mkdtemp(prefix="drift-metrics-"))
    os.environ[ENV] = str(path)
    if "prometheus_client.values" in sys.modules:  # imported too early: share from now on
        from prometheus_client import values  # noqa: PLC0415

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path


def process_dead(path: Path, pid: int) -> None:
    from prometheus_client import multiprocess  # noqa: PLC0415 - only once the env is set

    multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if os.environ.get(ENV) == str(path):
        del os.environ[ENV]
