"""What can go wrong in a pull, each as one line a person can act on.

``PullError`` ends the pull (``driftctl pull`` prints its message and exits non-zero).
``TransferError`` is a transfer cut short (a stream reset, a lost connection): the blob download
retries once before it becomes a ``PullError``.
"""

from __future__ import annotations

__all__ = ["PullError", "RegistryStatusError", "TransferError"]


class PullError(Exception):
    """The pull cannot complete; ``str(error)`` is the one-line reason."""


class TransferError(PullError):
    """A response ended early: the stream was reset or the connection was lost."""

    def __init__(self, message: str, *, reconnect: bool = False) -> None:
        super().__init__(message)
        self.reconnect = reconnect  # the connection cannot carry a retry: open a new one


class RegistryStatusError(PullError):
    """The registry answered with an unexpected status; the message carries its OCI error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
