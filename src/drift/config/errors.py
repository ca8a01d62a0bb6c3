"""The errors configuration loading reports."""

from __future__ import annotations

__all__ = ["ConfigError", "InvalidValueError"]


class ConfigError(Exception):
    """A configuration problem; ``str()`` is one line naming the key, its env name and the fault.

    Callers print it as is and exit with status 2 without starting anything.
    """

    def __init__(self, detail: str) -> None:
        self.detail = " ".join(detail.split())
        super().__init__(f"config error: {self.detail}")


class InvalidValueError(ValueError):
    """Raised by a value codec; the loader adds the key and the env name.

    Without ``detail`` the loader says "expected <what the field expects>, got <the value>".
    A ``detail`` replaces that text when the generic form would mislead or leak a secret.
    """

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(detail or "invalid value")
