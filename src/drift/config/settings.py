"""The validated configuration of one Drift deployment (what ``drift.toml`` and env produce)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Final

__all__ = [
    "WEBHOOK_ACTIONS",
    "AuditSettings",
    "AuthMode",
    "AuthSettings",
    "LogFormat",
    "LogSettings",
    "MetricsSettings",
    "RegistrySettings",
    "ServerSettings",
    "Settings",
    "StorageBackend",
    "StorageSettings",
    "WebhookEndpoint",
    "WebhookSettings",
]


class AuthMode(Enum):
    NONE = "none"
    BASIC = "basic"
    TOKEN = "token"  # noqa: S105 - a mode name, not a secret
    OIDC = "oidc"


class StorageBackend(Enum):
    FS = "fs"
    S3 = "s3"


class LogFormat(Enum):
    JSON = "json"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    bind_host: str = "0.0.0.0"  # noqa: S104 - a registry listens on all interfaces by default
    bind_port: int = 5000
    ui_host: str = "0.0.0.0"  # noqa: S104
    ui_port: int = 5001
    workers: int = 0  # 0 = one per CPU core
    secret: str = ""  # empty = generated once and kept in the data directory
    tls_cert: Path | None = None
    tls_key: Path | None = None
    drain_seconds: int = 5  # after SIGTERM: /readyz answers 503 while still serving
    shutdown_timeout_seconds: int = 30  # then: how long in-flight requests may still run


@dataclass(frozen=True, slots=True)
class AuthSettings:
    mode: AuthMode = AuthMode.NONE


@dataclass(frozen=True, slots=True)
class StorageSettings:
    backend: StorageBackend = StorageBackend.FS
    fs_root: Path = Path("./data")


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    delete_enabled: bool = True
    upload_purge_age_seconds: int = 7 * 24 * 3600
    catalog_page_size: int = 1000


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: LogFormat = LogFormat.JSON


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    enabled: bool = True  # off: no instrumentation at all and GET /metrics is 404


@dataclass(frozen=True, slots=True)
class AuditSettings:
    enabled: bool = True


WEBHOOK_ACTIONS: Final = ("push", "pull", "delete", "mount")


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    url: str
    secret: str = field(default="", repr=False)  # HMAC-SHA256 key of X-Drift-Signature
    actions: tuple[str, ...] = ("push", "delete", "mount")  # pulls are opt-in: they are many
    repositories: tuple[str, ...] = ("*",)  # glob patterns (fnmatch; "*" spans slashes)
    timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    endpoints: tuple[WebhookEndpoint, ...] = ()
    queue_size: int = 1000  # events waiting per endpoint and worker; more are dropped
    max_attempts: int = 5
    backoff_seconds: int = 1  # first retry delay, doubled at every attempt


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
