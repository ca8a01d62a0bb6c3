"""The table of configuration keys: one row per ``drift.toml`` key and its environment name.

A row says where the value lives in the file (``[section] key``), which environment variable
overrides it, how the raw value is parsed and validated, and which ``Settings`` attributes it sets.
Adding a setting is adding a row here (and a field to ``settings.py`` and a line to drift.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar, cast

from drift.config.rbac import Organisations, Policies, Subjects, Teams
from drift.config.settings import AuthMode, LogFormat, StorageBackend
from drift.config.users import ConfiguredUsers
from drift.config.values import (
    Address,
    Boolean,
    Choice,
    Codec,
    Directory,
    Duration,
    Integer,
    LogLevel,
    OptionalFile,
    Password,
    Secret,
    StringList,
    Text,
    Url,
    rust_log_level,
)
from drift.config.webhooks import WebhookEndpoints

__all__ = [
    "AVAILABLE_AUTH_MODES",
    "AVAILABLE_STORAGE_BACKENDS",
    "FIELDS",
    "SECTIONS",
    "EnvAlias",
    "Field",
    "field_named",
]

T = TypeVar("T")

# What this build implements. The S3 issue adds S3; any other accepted value is refused with
# "'<value>' is not available yet in this build".
AVAILABLE_AUTH_MODES: Final = frozenset(AuthMode)
AVAILABLE_STORAGE_BACKENDS: Final = frozenset({StorageBackend.FS})


@dataclass(frozen=True, slots=True)
class EnvAlias:
    """A second environment name read when the primary one is unset.

    ``translate`` turns the alias's value into the primary syntax, or None when it does not
    concern Drift (the setting then comes from the file or the default).
    """

    name: str
    translate: Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Field(Generic[T]):
    section: str
    key: str
    env: str
    codec: Codec[T]
    # Attributes of the ``Settings`` section the value sets; with several, the codec's value is
    # a tuple of the same length (``bind_addr`` -> ``bind_host``, ``bind_port``).
    attrs: tuple[str, ...]
    aliases: tuple[EnvAlias, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    def assignments(self, value: T) -> dict[str, object]:
        if len(self.attrs) == 1:
            return {self.attrs[0]: value}
        return dict(zip(self.attrs, cast(tuple[object, ...], value), strict=True))

    def current(self, section: object) -> T:
        """The value this field has in a ``Settings`` section (inverse of ``assignments``)."""
        values = tuple(getattr(section, attr) for attr in self.attrs)
        return cast(T, values[0] if len(values) == 1 else values)


FIELDS: Final[tuple[Field[Any], ...]] = (
    Field("server", "bind_addr", "DRIFT_BIND_ADDR", Address(), ("bind_host", "bind_port")),
    Field("server", "ui_addr", "DRIFT_UI_ADDR", Address(), ("ui_host", "ui_port")),
    Field(
        "server",
        "workers",
        "DRIFT_WORKERS",
        Integer(0, None, "a non-negative integer"),
        ("workers",),
    ),
    Field("server", "secret", "DRIFT_SECRET", Secret(), ("secret",)),
    Field("server", "tls_cert", "DRIFT_TLS_CERT", OptionalFile(), ("tls_cert",)),
    Field("server", "tls_key", "DRIFT_TLS_KEY", OptionalFile(), ("tls_key",)),
    Field(
        "server",
        "drain_seconds",
        "DRIFT_DRAIN_SECONDS",
        Integer(0, 3600, "a number of seconds in 0..3600"),
        ("drain_seconds",),
    ),
    Field(
        "server",
        "shutdown_timeout",
        "DRIFT_SHUTDOWN_TIMEOUT",
        Duration(),
        ("shutdown_timeout_seconds",),
    ),
    Field("auth", "mode", "DRIFT_AUTH", Choice(AuthMode, AVAILABLE_AUTH_MODES), ("mode",)),
    Field(
        "auth",
        "anonymous_pull",
        "DRIFT_AUTH_ANONYMOUS_PULL",
        StringList("repository glob patterns"),
        ("anonymous_pull",),
    ),
    Field(
        "auth",
        "login_failures",
        "DRIFT_AUTH_LOGIN_FAILURES",
        Integer(1, 1_000_000, "an integer in 1..1000000"),
        ("login_failures",),
    ),
    Field(
        "auth",
        "login_window",
        "DRIFT_AUTH_LOGIN_WINDOW",
        Duration(),
        ("login_window_seconds",),
    ),
    Field("basic", "users", "DRIFT_USERS", ConfiguredUsers(), ("users",)),
    Field("basic", "realm", "DRIFT_BASIC_REALM", Text(allow_empty=False), ("realm",)),
    Field("token", "realm", "DRIFT_TOKEN_REALM", Url(), ("realm",)),
    Field("token", "service", "DRIFT_TOKEN_SERVICE", Text(allow_empty=False), ("service",)),
    Field("token", "issuer", "DRIFT_TOKEN_ISSUER", Text(allow_empty=False), ("issuer",)),
    Field("token", "expiry", "DRIFT_TOKEN_EXPIRY", Duration(60), ("expiry_seconds",)),
    Field("token", "signing_key", "DRIFT_TOKEN_SIGNING_KEY", OptionalFile(), ("signing_key",)),
    Field("token", "public_key", "DRIFT_TOKEN_PUBLIC_KEY", OptionalFile(), ("public_key",)),
    Field("token", "jwks_url", "DRIFT_TOKEN_JWKS_URL", Url(), ("jwks_url",)),
    Field("oidc", "issuer", "DRIFT_OIDC_ISSUER", Url(), ("issuer",)),
    Field("oidc", "client_id", "DRIFT_OIDC_CLIENT_ID", Text(), ("client_id",)),
    Field("oidc", "client_secret", "DRIFT_OIDC_CLIENT_SECRET", Password(), ("client_secret",)),
    Field("oidc", "audience", "DRIFT_OIDC_AUDIENCE", Text(), ("audience",)),
    Field("oidc", "user_claim", "DRIFT_OIDC_USER_CLAIM", Text(allow_empty=False), ("user_claim",)),
    Field(
        "oidc",
        "groups_claims",
        "DRIFT_OIDC_GROUPS_CLAIMS",
        StringList("claim names"),
        ("groups_claims",),
    ),
    Field("rbac", "admins", "DRIFT_RBAC_ADMINS", Subjects(), ("admins",)),
    Field("rbac", "teams", "DRIFT_RBAC_TEAMS", Teams(), ("teams",)),
    Field("rbac", "organisations", "DRIFT_RBAC_ORGANISATIONS", Organisations(), ("organisations",)),
    Field("rbac", "policies", "DRIFT_RBAC_POLICIES", Policies(), ("policies",)),
    Field(
        "storage",
        "backend",
        "DRIFT_STORAGE_BACKEND",
        Choice(StorageBackend, AVAILABLE_STORAGE_BACKENDS),
        ("backend",),
    ),
    Field("storage", "fs_root", "DRIFT_FS_ROOT", Directory(), ("fs_root",)),
    Field(
        "registry",
        "delete_enabled",
        "DRIFT_REGISTRY_DELETE_ENABLED",
        Boolean(),
        ("delete_enabled",),
    ),
    Field(
        "registry",
        "upload_purge_age",
        "DRIFT_REGISTRY_UPLOAD_PURGE_AGE",
        Duration(),
        ("upload_purge_age_seconds",),
    ),
    Field(
        "registry",
        "catalog_page_size",
        "DRIFT_REGISTRY_CATALOG_PAGE_SIZE",
        Integer(1, 10000, "an integer in 1..10000"),
        ("catalog_page_size",),
    ),
    Field(
        "log",
        "level",
        "DRIFT_LOG",
        LogLevel(),
        ("level",),
        aliases=(EnvAlias("RUST_LOG", rust_log_level),),
    ),
    Field("log", "format", "DRIFT_LOG_FORMAT", Choice(LogFormat), ("format",)),
    Field("metrics", "enabled", "DRIFT_METRICS_ENABLED", Boolean(), ("enabled",)),
    Field("database", "url", "DRIFT_DATABASE_URL", Text(), ("url",)),
    Field("audit", "enabled", "DRIFT_AUDIT_ENABLED", Boolean(), ("enabled",)),
    Field("webhooks", "endpoints", "DRIFT_WEBHOOKS_ENDPOINTS", WebhookEndpoints(), ("endpoints",)),
    Field(
        "webhooks",
        "queue_size",
        "DRIFT_WEBHOOKS_QUEUE_SIZE",
        Integer(1, 1_000_000, "an integer in 1..1000000"),
        ("queue_size",),
    ),
    Field(
        "webhooks",
        "max_attempts",
        "DRIFT_WEBHOOKS_MAX_ATTEMPTS",
        Integer(1, 100, "an integer in 1..100"),
        ("max_attempts",),
    ),
    Field("webhooks", "backoff", "DRIFT_WEBHOOKS_BACKOFF", Duration(), ("backoff_seconds",)),
)

SECTIONS: Final[tuple[str, ...]] = tuple(dict.fromkeys(field.section for field in FIELDS))


def field_named(name: str) -> Field[Any]:
    """The row of ``section.key``."""
    return next(field for field in FIELDS if field.name == name)
