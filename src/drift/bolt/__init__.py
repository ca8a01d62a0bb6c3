"""Bolt's pull client: an image from a Drift registry over HTTP/3 into an OCI image layout.

``driftctl pull --http3`` drives it. One QUIC connection carries every request (``h3``,
``quic``, ``body``), the registry protocol sits above it (``session``: connection, auth and
token realm; ``auth``; ``registry``: manifests and blobs), and the pull itself (``pull``)
resolves an index to the host platform (``platforms``), downloads the blobs in parallel with
their digests verified while they stream to disk (``download``) into an OCI layout written
atomically (``layout``), showing its progress on stderr (``progress``). ``trust`` decides which
registry certificate is accepted.
"""

from __future__ import annotations

from drift.bolt.auth import Credentials
from drift.bolt.errors import PullError
from drift.bolt.h3 import ConnectionOptions
from drift.bolt.platforms import Platform, host_platform
from drift.bolt.progress import Progress
from drift.bolt.pull import PullOptions, PullResult, pull_image
from drift.bolt.reference import Endpoint, ImageReference, parse_reference
from drift.bolt.trust import Trust

__all__ = [
    "ConnectionOptions",
    "Credentials",
    "Endpoint",
    "ImageReference",
    "Platform",
    "Progress",
    "PullError",
    "PullOptions",
    "PullResult",
    "Trust",
    "host_platform",
    "parse_reference",
    "pull_image",
]
