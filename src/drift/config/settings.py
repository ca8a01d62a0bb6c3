"""The validated configuration of one Drift deployment (what ``drift.toml`` and env produce)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Final

__all__ = [
    "ACTIONS",
    "WEBHOOK_ACTIONS",
    "AuditSettings",
    "AuthMode",
    "AuthSettings",
    "BasicSettings",
    "ConfiguredUser",
    "DatabaseSettings",
    "LogFormat",
    "LogSettings",
    "MdnsSettings",
    "MetricsSettings",
    "OidcSettings",
    "Organisation",
    "PolicyRule",
    "QuicEncryption",
    "QuicSettings",
    "RbacSettings",
    "RegistrySettings",
    "S3Settings",
    "ServerSettings",
    "Settings",
    "StorageBackend",
    "StorageSettings",
    "Team",
    "TokenSettings",
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
    mode: AuthMode = AuthMode.BASIC
    anonymous_pull: tuple[str, ...] = ()  # repository globs anyone may pull without credentials
    login_failures: int = 10  # failed logins per user, and per address, before 429
    login_window_seconds: int = 300  # ... within this window


@dataclass(frozen=True, slots=True)
class ConfiguredUser:
    name: str
    password: str = field(repr=False)  # a bcrypt or argon2 hash, or plain text (warned about)


@dataclass(frozen=True, slots=True)
class BasicSettings:
    users: tuple[ConfiguredUser, ...] = ()
    realm: str = "Drift Registry"


@dataclass(frozen=True, slots=True)
class TokenSettings:
    realm: str = ""  # empty: Drift's own <base URL>/auth/token
    service: str = "drift"  # the token audience
    issuer: str = "drift"
    expiry_seconds: int = 300
    signing_key: Path | None = None  # PEM private key; None: generated once in the data dir
    # An external token issuer: tokens signed by this key (PEM) or any key of this JWKS URL.
    public_key: Path | None = None
    jwks_url: str = ""

    @property
    def external(self) -> bool:
        return self.public_key is not None or bool(self.jwks_url)


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str = ""  # empty: OIDC ID tokens are not accepted
    client_id: str = ""
    client_secret: str = field(default="", repr=False)  # the console's login (console issue)
    audience: str = ""  # empty: client_id
    user_claim: str = "sub"
    groups_claims: tuple[str, ...] = ("groups",)

    @property
    def expected_audience(self) -> str:
        return self.audience or self.client_id


ACTIONS: Final = ("pull", "push", "delete", "admin")


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    members: tuple[str, ...]  # subjects: user:NAME, robot:NAME, oidc:SUB, group:NAME


@dataclass(frozen=True, slots=True)
class Organisation:
    """A repository name prefix (``ghost`` owns ``ghost/...``) with its members and owners."""

    name: str
    members: tuple[str, ...] = ()  # pull and push on <name>/*
    owners: tuple[str, ...] = ()  # every action on <name>/*


@dataclass(frozen=True, slots=True)
class PolicyRule:
    subjects: tuple[
        str, ...
    ]  # user:NAME, team:NAME, robot:NAME, oidc:SUB, group:NAME, *, anonymous
    repositories: tuple[str, ...]  # glob patterns ("*" spans slashes)
    actions: tuple[str, ...]  # of ACTIONS


@dataclass(frozen=True, slots=True)
class RbacSettings:
    admins: tuple[str, ...] = ()  # subjects with every action everywhere
    teams: tuple[Team, ...] = ()
    organisations: tuple[Organisation, ...] = ()
    policies: tuple[PolicyRule, ...] = ()


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = ""  # empty: sqlite:///<fs_root>/.drift/drift.db


@dataclass(frozen=True, slots=True)
class StorageSettings:
    backend: StorageBackend = StorageBackend.FS
    fs_root: Path = Path("./data")


@dataclass(frozen=True, slots=True)
class S3Settings:
    bucket: str = ""
    endpoint: str = ""  # empty: AWS S3 of the region
    region: str = "us-east-1"
    access_key: str = ""  # empty: the default AWS credential chain (env, profile, instance role)
    secret_key: str = field(default="", repr=False)
    path_style: bool = False  # http://endpoint/bucket/key (MinIO, SeaweedFS, Ceph) vs virtual host
    root_directory: str = ""  # key prefix in the bucket (registry:2's rootdirectory)
    part_size: int = 16 << 20  # multipart part size (>= 5 MiB)
    redirect: bool = True  # blob GETs answered with a 307 to a presigned URL
    public_endpoint: str = ""  # endpoint used in presigned URLs, when clients reach S3 elsewhere
    cache_dir: Path | None = None  # hybrid tier: local disk cache of hot blobs; None = off
    cache_size: int = 10 << 30  # bytes the cache may hold (LRU by size)


class QuicEncryption(Enum):
    AUTO = "auto"  # server.tls_cert/tls_key (or quic cert/key) when set, else self-signed
    CERTIFICATE = "certificate"  # the configured certificate; refuse to start without one
    SELF_SIGNED = "self-signed"  # generated once in <fs_root>/.drift/quic/


@dataclass(frozen=True, slots=True)
class QuicSettings:
    enabled: bool = True
    bind_address: str = "0.0.0.0"  # noqa: S104 - Bolt nodes reach the registry from the LAN
    bind_port: int = 4433
    node_id: str = ""  # empty: the host name
    encryption: QuicEncryption = QuicEncryption.AUTO
    cert: Path | None = None  # empty: server.tls_cert
    key: Path | None = None  # empty: server.tls_key
    max_datagram_size: int = 1350
    idle_timeout_seconds: int = 60
    max_streams: int = 128  # concurrent bidirectional streams per connection


@dataclass(frozen=True, slots=True)
class MdnsSettings:
    enabled: bool = False
    interface: str = ""  # empty: every interface with an IPv4 address; "lo" in tests
    domain: str = "bolt.local"  # the Bolt DNS domain, part of the instance name
    instance: str = ""  # empty: "drift-<node id> (<domain>)"


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
    basic: BasicSettings = field(default_factory=BasicSettings)
    token: TokenSettings = field(default_factory=TokenSettings)
    oidc: OidcSettings = field(default_factory=OidcSettings)
    rbac: RbacSettings = field(default_factory=RbacSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    quic: QuicSettings = field(default_factory=QuicSettings)
    mdns: MdnsSettings = field(default_factory=MdnsSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
