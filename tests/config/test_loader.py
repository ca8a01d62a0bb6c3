"""``load_settings``: defaults, file, environment, and the one-line errors."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from drift.config.fields import FIELDS
from drift.config.loader import ConfigError, load_settings, render_settings
from drift.config.settings import (
    AuthMode,
    AuthSettings,
    BasicSettings,
    ConfiguredUser,
    DatabaseSettings,
    LogFormat,
    LogSettings,
    OidcSettings,
    Organisation,
    PolicyRule,
    RbacSettings,
    RegistrySettings,
    ServerSettings,
    Settings,
    StorageSettings,
    Team,
    TokenSettings,
)
from tests.config.conftest import clean_environ

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def config_error(config: Path | None, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("config error: ")
    return message


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(None, {})
    assert settings == Settings()
    assert settings.server.bind_host == "0.0.0.0"
    assert settings.server.bind_port == 5000
    assert settings.server.ui_port == 5001
    assert settings.auth.mode is AuthMode.BASIC  # private by default
    assert settings.storage.fs_root == Path("data")
    assert settings.registry.upload_purge_age_seconds == 7 * 24 * 3600
    assert settings.log == LogSettings(level="info", format=LogFormat.JSON)


FULL_FILE = """
[server]
bind_addr = "127.0.0.1:6000"
ui_addr = "[::1]:6001"
workers = 3
secret = "0123456789abcdef0123"

[auth]
mode = "token"
anonymous_pull = ["public/*"]
login_failures = 5
login_window = "10m"

[basic.users]
alice = "$2b$12$abcdefghijklmnopqrstuv"
bob = "plain"

[token]
service = "registry.example"
expiry = "15m"

[oidc]
issuer = "https://token.actions.githubusercontent.com/"
client_id = "drift"
groups_claims = ["groups", "repository"]

[rbac]
admins = ["user:alice"]

[[rbac.teams]]
name = "ci"
members = ["robot:builder", "group:ghost/demo"]

[[rbac.organisations]]
name = "ghost"
members = ["team:ci"]
owners = ["user:bob"]

[[rbac.policies]]
subjects = ["*"]
repositories = ["library/*"]
actions = ["pull"]

[database]
url = "sqlite:///srv/drift/admin.db"

[storage]
backend = "fs"
fs_root = "/srv/drift"

[registry]
delete_enabled = false
upload_purge_age = "30m"
catalog_page_size = 50

[log]
level = "WARN"
format = "text"
"""

FULL_SETTINGS = Settings(
    server=ServerSettings(
        bind_host="127.0.0.1",
        bind_port=6000,
        ui_host="::1",
        ui_port=6001,
        workers=3,
        secret="0123456789abcdef0123",
    ),
    auth=AuthSettings(
        mode=AuthMode.TOKEN,
        anonymous_pull=("public/*",),
        login_failures=5,
        login_window_seconds=600,
    ),
    basic=BasicSettings(
        users=(
            ConfiguredUser("alice", "$2b$12$abcdefghijklmnopqrstuv"),
            ConfiguredUser("bob", "plain"),
        )
    ),
    token=TokenSettings(service="registry.example", expiry_seconds=900),
    oidc=OidcSettings(
        issuer="https://token.actions.githubusercontent.com",
        client_id="drift",
        groups_claims=("groups", "repository"),
    ),
    rbac=RbacSettings(
        admins=("user:alice",),
        teams=(Team("ci", ("robot:builder", "group:ghost/demo")),),
        organisations=(Organisation("ghost", members=("team:ci",), owners=("user:bob",)),),
        policies=(PolicyRule(("*",), ("library/*",), ("pull",)),),
    ),
    database=DatabaseSettings(url="sqlite:///srv/drift/admin.db"),
    storage=StorageSettings(fs_root=Path("/srv/drift")),
    registry=RegistrySettings(
        delete_enabled=False, upload_purge_age_seconds=1800, catalog_page_size=50
    ),
    log=LogSettings(level="warning", format=LogFormat.TEXT),
)


def test_file_values(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path / "c.toml", FULL_FILE), {}) == FULL_SETTINGS


def test_environment_overrides_file(tmp_path: Path) -> None:
    environ = {
        "DRIFT_BIND_ADDR": "[::]:7000",
        "DRIFT_WORKERS": "0",
        "DRIFT_FS_ROOT": "relative/dir",
        "DRIFT_REGISTRY_DELETE_ENABLED": "on",
        "DRIFT_REGISTRY_UPLOAD_PURGE_AGE": "1h30m",
        "DRIFT_LOG": "debug",
        "DRIFT_LOG_FORMAT": "JSON",
    }
    settings = load_settings(write(tmp_path / "c.toml", FULL_FILE), environ)
    assert (settings.server.bind_host, settings.server.bind_port) == ("::", 7000)
    assert settings.server.workers == 0
    assert settings.server.ui_port == 6001  # from the file
    assert settings.storage.fs_root == Path("relative/dir")
    assert settings.registry.delete_enabled is True
    assert settings.registry.upload_purge_age_seconds == 5400
    assert settings.registry.catalog_page_size == 50  # from the file
    assert settings.log == LogSettings(level="debug", format=LogFormat.JSON)


def test_config_file_lookup_order(tmp_path: Path) -> None:
    write(tmp_path / "drift.toml", "[server]\nworkers = 1\n")
    from_env = write(tmp_path / "env.toml", "[server]\nworkers = 2\n")
    explicit = write(tmp_path / "explicit.toml", "[server]\nworkers = 3\n")
    assert load_settings(None, {}).server.workers == 1  # ./drift.toml (cwd is tmp_path)
    assert load_settings(None, {"DRIFT_CONFIG": str(from_env)}).server.workers == 2
    assert load_settings(explicit, {"DRIFT_CONFIG": str(from_env)}).server.workers == 3


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    assert "no such file" in config_error(missing, {})
    message = config_error(None, {"DRIFT_CONFIG": str(missing)})
    assert "DRIFT_CONFIG" in message
    assert "no such file" in message
    broken = write(tmp_path / "broken.toml", "[server\nworkers = 1\n")
    assert "invalid TOML" in config_error(broken, {})
    assert "a TOML file" in config_error(tmp_path, {})


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[server]\nbogus = 1\n", "unknown key server.bogus"),
        ("[server]\nworkers = 1\n[server.extra]\nx = 1\n", "unknown key server.extra"),
        ("[bogus]\nx = 1\n", "unknown section [bogus]"),
        ("workers = 4\n", "unknown top-level key workers"),
        ("server = 4\n", "server must be a table"),
    ],
)
def test_unknown_sections_and_keys_are_named(tmp_path: Path, text: str, named: str) -> None:
    assert named in config_error(write(tmp_path / "c.toml", text), {})


def test_several_unknown_keys_in_one_line(tmp_path: Path) -> None:
    message = config_error(write(tmp_path / "c.toml", "[log]\nlevl = 1\nfromat = 2\n"), {})
    assert "unknown key log.levl" in message
    assert "unknown key log.fromat" in message


BAD_ENV_VALUES = [
    ("server.bind_addr", "DRIFT_BIND_ADDR", value)
    for value in (
        "5000",
        "localhost",
        ":5000",
        "::1:5000",
        "[::1]",
        "[zz::q]:5000",
        "[127.0.0.1]:5000",
        "host:0",
        "host:65536",
        "two words:80",
        "300.1.1.1:5000",
        "host:80/x",
        "",
    )
] + [
    ("server.ui_addr", "DRIFT_UI_ADDR", "0.0.0.0"),
    ("server.workers", "DRIFT_WORKERS", "abc"),
    ("server.workers", "DRIFT_WORKERS", "-1"),
    ("server.workers", "DRIFT_WORKERS", "1.5"),
    ("server.workers", "DRIFT_WORKERS", ""),
    ("server.tls_cert", "DRIFT_TLS_CERT", "/nonexistent/cert.pem"),
    ("server.tls_key", "DRIFT_TLS_KEY", "/nonexistent/key.pem"),
    ("auth.mode", "DRIFT_AUTH", "anonymous"),
    ("storage.backend", "DRIFT_STORAGE_BACKEND", "gcs"),
    ("storage.fs_root", "DRIFT_FS_ROOT", ""),
    ("registry.delete_enabled", "DRIFT_REGISTRY_DELETE_ENABLED", "maybe"),
    ("registry.upload_purge_age", "DRIFT_REGISTRY_UPLOAD_PURGE_AGE", "7"),
    ("registry.upload_purge_age", "DRIFT_REGISTRY_UPLOAD_PURGE_AGE", "0s"),
    ("registry.upload_purge_age", "DRIFT_REGISTRY_UPLOAD_PURGE_AGE", "1y"),
    ("registry.upload_purge_age", "DRIFT_REGISTRY_UPLOAD_PURGE_AGE", "-1h"),
    ("registry.upload_purge_age", "DRIFT_REGISTRY_UPLOAD_PURGE_AGE", "999999999w"),
    ("registry.catalog_page_size", "DRIFT_REGISTRY_CATALOG_PAGE_SIZE", "0"),
    ("registry.catalog_page_size", "DRIFT_REGISTRY_CATALOG_PAGE_SIZE", "10001"),
    ("log.level", "DRIFT_LOG", "loud"),
    ("log.level", "RUST_LOG", "drift=loud"),
    ("log.level", "RUST_LOG", "verbose"),
    ("log.format", "DRIFT_LOG_FORMAT", "xml"),
    ("auth.login_failures", "DRIFT_AUTH_LOGIN_FAILURES", "0"),
    ("auth.login_window", "DRIFT_AUTH_LOGIN_WINDOW", "soon"),
    ("token.expiry", "DRIFT_TOKEN_EXPIRY", "30s"),
    ("token.jwks_url", "DRIFT_TOKEN_JWKS_URL", "ftp://keys.example/jwks"),
    ("token.signing_key", "DRIFT_TOKEN_SIGNING_KEY", "/nonexistent/key.pem"),
    ("oidc.issuer", "DRIFT_OIDC_ISSUER", "issuer.example"),
    ("rbac.admins", "DRIFT_RBAC_ADMINS", "root"),
    ("rbac.policies", "DRIFT_RBAC_POLICIES", "{}"),
]


@pytest.mark.parametrize(("key", "env", "value"), BAD_ENV_VALUES)
def test_bad_environment_value_is_one_line_naming_key_and_env(
    key: str, env: str, value: str
) -> None:
    message = config_error(None, {env: value})
    assert message.startswith(f"config error: {key} ({env}): expected ")
    assert message.endswith(f"got {value!r}") or f"got {value!r} (" in message


def test_the_error_of_the_brief_word_for_word() -> None:
    assert config_error(None, {"DRIFT_WORKERS": "abc"}) == (
        "config error: server.workers (DRIFT_WORKERS): expected a non-negative integer, got 'abc'"
    )


@pytest.mark.parametrize(
    ("line", "key", "env", "got"),
    [
        ('workers = "many"', "server.workers", "DRIFT_WORKERS", "got 'many'"),
        ("workers = true", "server.workers", "DRIFT_WORKERS", "got true"),
        ("workers = 1.5", "server.workers", "DRIFT_WORKERS", "got 1.5"),
        ("bind_addr = 5000", "server.bind_addr", "DRIFT_BIND_ADDR", "got 5000"),
        ("ui_addr = [1, 2]", "server.ui_addr", "DRIFT_UI_ADDR", "got an array"),
        ("tls_cert = 1", "server.tls_cert", "DRIFT_TLS_CERT", "got 1"),
    ],
)
def test_bad_file_value_names_key_and_env(
    tmp_path: Path, line: str, key: str, env: str, got: str
) -> None:
    message = config_error(write(tmp_path / "c.toml", f"[server]\n{line}\n"), {})
    assert message.startswith(f"config error: {key} ({env}): expected ")
    assert message.endswith(got)


def test_s3_backend_needs_a_bucket() -> None:
    assert config_error(None, {"DRIFT_STORAGE_BACKEND": "s3"}) == (
        "config error: s3.bucket (DRIFT_S3_BUCKET): expected a value because storage.backend "
        "is s3, got nothing"
    )
    settings = load_settings(None, {"DRIFT_STORAGE_BACKEND": "s3", "DRIFT_S3_BUCKET": "drift"})
    assert (settings.storage.backend.value, settings.s3.bucket) == ("s3", "drift")


def test_database_url_errors_never_echo_credentials() -> None:
    message = config_error(None, {"DRIFT_DATABASE_URL": "postgresql://drift:hunter2@db/drift"})
    assert message.startswith("config error: database.url (DRIFT_DATABASE_URL): expected ")
    assert "hunter2" not in message


@pytest.mark.parametrize("users", ["alice", "bad name:hunter2,alice:hunter2", "alice:"])
def test_user_errors_never_echo_a_password(users: str) -> None:
    message = config_error(None, {"DRIFT_USERS": users})
    assert message.startswith("config error: basic.users (DRIFT_USERS): ")
    assert "hunter2" not in message


def test_users_with_argon2_hashes_split_only_at_user_names() -> None:
    argon2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
    users = load_settings(None, {"DRIFT_USERS": f"alice:{argon2},bob:pw"}).basic.users
    assert [(user.name, user.password) for user in users] == [("alice", argon2), ("bob", "pw")]


@pytest.mark.parametrize(
    ("env", "needed"),
    [
        ({"DRIFT_AUTH": "oidc"}, "oidc.issuer"),
        ({"DRIFT_OIDC_ISSUER": "https://issuer.example"}, "oidc.client_id"),
        (
            {"DRIFT_AUTH": "token", "DRIFT_TOKEN_JWKS_URL": "https://idp.example/jwks"},
            "token.realm",
        ),
    ],
)
def test_auth_settings_that_need_each_other(env: dict[str, str], needed: str) -> None:
    assert config_error(None, env).startswith(f"config error: {needed} (")


def test_secret_errors_never_echo_the_secret() -> None:
    message = config_error(None, {"DRIFT_SECRET": "hunter2"})
    assert message.startswith("config error: server.secret (DRIFT_SECRET): expected ")
    assert "hunter2" not in message
    assert load_settings(None, {"DRIFT_SECRET": "x" * 16}).server.secret == "x" * 16


def test_fs_root_that_is_a_file(tmp_path: Path) -> None:
    a_file = write(tmp_path / "file", "")
    message = config_error(None, {"DRIFT_FS_ROOT": str(a_file)})
    assert message.startswith("config error: storage.fs_root (DRIFT_FS_ROOT): expected a directory")


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert = write(tmp_path / "cert.pem", "cert")
    key = write(tmp_path / "key.pem", "key")
    both = load_settings(None, {"DRIFT_TLS_CERT": str(cert), "DRIFT_TLS_KEY": str(key)})
    assert (both.server.tls_cert, both.server.tls_key) == (cert, key)
    only_cert = config_error(None, {"DRIFT_TLS_CERT": str(cert)})
    assert only_cert.startswith("config error: server.tls_key (DRIFT_TLS_KEY): expected ")
    only_key = config_error(None, {"DRIFT_TLS_KEY": str(key)})
    assert only_key.startswith("config error: server.tls_cert (DRIFT_TLS_CERT): expected ")


def test_empty_environment_value_unsets_an_optional_file(tmp_path: Path) -> None:
    cert = write(tmp_path / "cert.pem", "cert")
    key = write(tmp_path / "key.pem", "key")
    config = write(tmp_path / "c.toml", f'[server]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    settings = load_settings(config, {"DRIFT_TLS_CERT": "", "DRIFT_TLS_KEY": ""})
    assert settings.server.tls_cert is None
    assert settings.server.tls_key is None


@pytest.mark.parametrize(
    ("environ", "level"),
    [
        ({"RUST_LOG": "drift=debug,info"}, "debug"),
        ({"RUST_LOG": "info,drift=trace"}, "trace"),
        ({"RUST_LOG": "warn"}, "warning"),
        ({"RUST_LOG": "ERROR"}, "error"),
        ({"RUST_LOG": "hyper=debug"}, "warning"),  # says nothing about drift: the file decides
        ({"RUST_LOG": "drift=debug", "DRIFT_LOG": "error"}, "error"),  # DRIFT_LOG wins
        ({"DRIFT_LOG": "Trace"}, "trace"),
        ({}, "warning"),
    ],
)
def test_rust_log_alias(tmp_path: Path, environ: dict[str, str], level: str) -> None:
    config = write(tmp_path / "c.toml", '[log]\nlevel = "warn"\n')
    assert load_settings(config, environ).log.level == level


def test_render_reads_back_to_the_same_settings(tmp_path: Path) -> None:
    cert = write(tmp_path / "cert.pem", "cert")
    key = write(tmp_path / "key.pem", "key")
    environ = {"DRIFT_TLS_CERT": str(cert), "DRIFT_TLS_KEY": str(key), "DRIFT_FS_ROOT": 'a "q"\\d'}
    config = write(tmp_path / "c.toml", FULL_FILE.replace('secret = "0123456789abcdef0123"', ""))
    settings = load_settings(config, environ)
    lines = render_settings(settings).splitlines(keepends=True)
    secret_shown = [line for line in lines if line.startswith("secret = ")]
    assert secret_shown == ['secret = "<generated>"  # DRIFT_SECRET\n']
    users_shown = [line for line in lines if line.startswith("users = ")]
    assert users_shown == ['users = { alice = "<set>", bob = "<set>" }  # DRIFT_USERS\n']
    readable = "".join(line for line in lines if line not in secret_shown + users_shown)
    rendered = write(tmp_path / "rendered.toml", readable)
    assert load_settings(rendered, {}) == replace(settings, basic=BasicSettings())


def test_render_hides_the_secret() -> None:
    assert 'secret = "<generated>"' in render_settings(Settings())
    shown = render_settings(load_settings(None, {"DRIFT_SECRET": "s" * 20}))
    assert 'secret = "<set>"' in shown
    assert "s" * 20 not in shown


def test_shipped_drift_toml_documents_the_defaults() -> None:
    shipped = REPO / "drift.toml"
    assert load_settings(shipped, {}) == Settings()
    document = tomllib.loads(shipped.read_text(encoding="utf-8"))
    text = shipped.read_text(encoding="utf-8")
    for field in FIELDS:
        assert field.key in document[field.section], f"{field.name} missing from drift.toml"
        assert field.env in text, f"{field.env} not documented in drift.toml"


def test_drift_serve_with_a_bad_value_exits_2_with_one_line(tmp_path: Path) -> None:
    drift = Path(sys.executable).with_name("drift")
    result = subprocess.run(
        [str(drift), "serve"],
        env={**clean_environ(), "DRIFT_WORKERS": "abc"},
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr == (
        b"config error: server.workers (DRIFT_WORKERS): expected a non-negative integer, "
        b"got 'abc'\n"
    )


def test_a_config_error_starts_nothing(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from drift.cli.drift import main\n"
        "code = main(['serve'])\n"
        "loaded = [m for m in sys.modules if m.startswith(('aiohttp', 'drift.server'))]\n"
        "print(code, loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**clean_environ(), "DRIFT_LOG_FORMAT": "yaml"},
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == b"2 []\n"
    assert result.stderr.decode().count("\n") == 1
