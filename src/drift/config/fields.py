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
from drift.config.settings import AuthMode, LogFormat, QuicEncryption, StorageBackend
from drift.config.users import ConfiguredUsers
from drift.config.values import (
    Address,
    Boolean,
    ByteSize,
    Choice,
    Codec,
    Directory,
    Duration,
    Host,
    Integer,
    LogLevel,
    OptionalDirectory,
    OptionalFile,
    Password,
    Secret,
    StringList,
    Text,
    Url,
    address_host,
    address_port,
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

# What this build implements; any other accepted value is refused with
# "'<value>' is not available yet in this build".
AVAILABLE_AUTH_MODES: Final = frozenset(AuthMode)
AVAILABLE_STORAGE_BACKENDS: Final = frozenset(StorageBackend)


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
    Field("s3", "bucket", "DRIFT_S3_BUCKET", Text(), ("bucket",)),
    Field("s3", "endpoint", "DRIFT_S3_ENDPOINT", Url(), ("endpoint",)),
    Field("s3", "region", "DRIFT_S3_REGION", Text(allow_empty=False), ("region",)),
    Field("s3", "access_key", "DRIFT_S3_ACCESS_KEY", Text(), ("access_key",)),
    Field("s3", "secret_key", "DRIFT_S3_SECRET_KEY", Password(), ("secret_key",)),
    Field("s3", "path_style", "DRIFT_S3_PATH_STYLE", Boolean(), ("path_style",)),
    Field("s3", "root_directory", "DRIFT_S3_ROOT_DIRECTORY", Text(), ("root_directory",)),
    Field("s3", "part_size", "DRIFT_S3_PART_SIZE", ByteSize(5 << 20, 5 << 30), ("part_size",)),
    Field("s3", "redirect", "DRIFT_S3_REDIRECT", Boolean(), ("redirect",)),
    Field("s3", "public_endpoint", "DRIFT_S3_PUBLIC_ENDPOINT", Url(), ("public_endpoint",)),
    Field("s3", "cache_dir", "DRIFT_S3_CACHE_DIR", OptionalDirectory(), ("cache_dir",)),
    Field("s3", "cache_size", "DRIFT_S3_CACHE_SIZE", ByteSize(1 << 20, 1 << 50), ("cache_size",)),
    Field("quic", "enabled", "DRIFT_QUIC_ENABLED", Boolean(), ("enabled",)),
    Field(
        "quic",
        "bind_address",
        "DRIFT_QUIC_BIND_ADDRESS",
        Host(),
        ("bind_address",),
        aliases=(EnvAlias("DRIFT_QUIC_ADDR", address_host),),
    ),
    Field(
        "quic",
        "bind_port",
        "DRIFT_QUIC_BIND_PORT",
        Integer(1, 65535, "a port in 1..65535"),
        ("bind_port",),
        aliases=(EnvAlias("DRIFT_QUIC_ADDR", address_port),),
    ),
    Field("quic", "node_id", "DRIFT_QUIC_NODE_ID", Text(), ("node_id",)),
    Field("quic", "encryption", "DRIFT_QUIC_ENCRYPTION", Choice(QuicEncryption), ("encryption",)),
    Field("quic", "cert", "DRIFT_QUIC_CERT", OptionalFile(), ("cert",)),
    Field("quic", "key", "DRIFT_QUIC_KEY", OptionalFile(), ("key",)),
    Field(
        "quic",
        "max_datagram_size",
        "DRIFT_QUIC_MAX_DATAGRAM_SIZE",
        Integer(1200, 16384, "a datagram size in 1200..16384"),
        ("max_datagram_size",),
    ),
    Field("quic", "idle_timeout", "DRIFT_QUIC_IDLE_TIMEOUT", Duration(), ("idle_timeout_seconds",)),
    Field(
        "quic",
        "max_streams",
        "DRIFT_QUIC_MAX_STREAMS",
        Integer(1, 10_000, "an integer in 1..10000"),
        ("max_streams",),
    ),
    Field("mdns", "enabled", "DRIFT_MDNS_ENABLED", Boolean(), ("enabled",)),
    Field("mdns", "interface", "DRIFT_MDNS_INTERFACE", Text(), ("interface",)),
    Field("mdns", "domain", "DRIFT_MDNS_DOMAIN", Text(allow_empty=False), ("domain",)),
    Field("mdns", "instance", "DRIFT_MDNS_INSTANCE", Text(), ("instance",)),
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
