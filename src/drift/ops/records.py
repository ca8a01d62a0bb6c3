"""What the instrumentation keeps of one finished request until the next flush.

A request only appends one ``RequestRecord`` (a plain tuple: no object, no formatting); the
metrics and the access log fold the pending records in one loop each, every
``drift.ops.instrument.FLUSH_INTERVAL`` or once ``DRAIN_LIMIT`` records are pending. Batches
keep the request path short, the folding loops hot in the CPU caches, and let the access log
reuse the JSON text of the previous line when consecutive requests share their ``RequestKey``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DRAIN_LIMIT",
    "ENDED",
    "REQUEST_ID",
    "STARTED",
    "RequestKey",
    "RequestRecord",
]

DRAIN_LIMIT: Final = 256

# method, path, route, repository, user, status, bytes_in, bytes_out, transport, remote: what
# repeats from one request for a URL to the next (the access log caches its JSON text per key).
# ``method`` is a standard method or "OTHER", ``route`` a RouteId value or "unmatched".
RequestKey = tuple[str, str, str, str | None, str | None, int, int, int, str, str | None]

# The key's fields (``record[:10]``), then the request id, which holds only [A-Za-z0-9._:-]
# (nothing to escape in JSON), and the ``time.perf_counter`` readings when the request head was
# read and when the response body was sent.
RequestRecord = tuple[
    str, str, str, str | None, str | None, int, int, int, str, str | None, str, float, float
]
REQUEST_ID: Final = 10
STARTED: Final = 11
ENDED: Final = 12
