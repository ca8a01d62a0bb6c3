"""GET request rates with wrk: requests per second and p50/p99 latency from `--latency`."""

from __future__ import annotations

import re
import subprocess
from typing import Final

from bench.load import CONNECTIONS, THREADS, LoadError, LoadResult

__all__ = ["parse", "run_wrk"]

_UNIT_MS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_RATE: Final = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE: Final = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_TOTAL: Final = re.compile(r"^\s+(\d+) requests in", re.MULTILINE)
_NON_2XX: Final = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS: Final = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)


def parse(output: str) -> LoadResult:
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    percentiles = {m[1]: float(m[2]) * _UNIT_MS[m[3]] for m in _PERCENTILE.finditer(output)}
    if rate is None or total is None or set(percentiles) != {"50", "99"}:
        raise LoadError(f"unexpected wrk output:\n{output}")
    errors = _SOCKET_ERRORS.search(output)
    non_2xx = _NON_2XX.search(output)
    return LoadResult(
        tool="wrk",
        requests_per_s=float(rate[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(url: str, seconds: float, headers: dict[str, str]) -> LoadResult:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s"]
    command.append("--latency")
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    if done.returncode != 0:
        raise LoadError(f"wrk exited {done.returncode}: {done.stderr or done.stdout}")
    return parse(done.stdout)
