"""``load_settings``: defaults, then ``drift.toml``, then the environment, validated.

Precedence, per key: the environment (primary name, then aliases), the config file, the default
of ``Settings``. The config file is the explicit path, else ``$DRIFT_CONFIG``, else
``./drift.toml`` when it exists, else none. Every fault is a ``ConfigError`` of one line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from drift.config.errors import ConfigError, InvalidValueError
from drift.config.fields import FIELDS, SECTIONS, Field, field_named
from drift.config.render import render_settings
from drift.config.settings import AuthMode, ServerSettings, Settings, StorageBackend
from drift.config.values import show

__all__ = ["CONFIG_ENV", "ConfigError", "find_config_file", "load_settings", "render_settings"]

CONFIG_ENV: Final = "DRIFT_CONFIG"
DEFAULT_CONFIG_FILE: Final = Path("drift.toml")
_UNSET: Final = object()


def find_config_file(config_path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The config file to read, or None to run on defaults and the environment alone."""
    if config_path is not None:
        return config_path
    named = environ.get(CONFIG_ENV)
    if named is not None:
        if not named:
            raise ConfigError(f"{CONFIG_ENV}: expected the path of a TOML file, got ''")
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _read_toml(path: Path, origin: str) -> dict[str, Any]:
    where = f"config file {show(str(path))}{origin}"
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: invalid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None


def _file_values(document: Mapping[str, Any], path: Path) -> dict[str, object]:
    """The file's values by ``section.key``; unknown sections and keys are errors naming them."""
    known = {section: [f.key for f in FIELDS if f.section == section] for section in SECTIONS}
    values: dict[str, object] = {}
    problems: list[str] = []
    for section, table in document.items():
        if section not in known:
            kind = f"section [{section}]" if isinstance(table, dict) else f"top-level key {section}"
            problems.append(f"unknown {kind} (known sections: {', '.join(SECTIONS)})")
        elif not isinstance(table, dict):
            problems.append(f"{section} must be a table [{section}], got {show(table)}")
        else:
            for key, value in table.items():
                if key in known[section]:
                    values[f"{section}.{key}"] = value
                else:
                    hint = ", ".join(known[section])
                    problems.append(f"unknown key {section}.{key} (known in [{section}]: {hint})")
    if problems:
        raise ConfigError(f"config file {show(str(path))}: " + "; ".join(problems))
    return values


def _parse(field: Field[Any], raw: object, shown: object, env: str) -> Any:
    try:
        return field.codec.parse(raw)
    except InvalidValueError as exc:
        detail = exc.detail or f"expected {field.codec.expected}, got {show(shown)}"
        raise ConfigError(f"{field.name} ({env}): {detail}") from None


def _resolve(
    field: Field[Any], file_values: Mapping[str, object], environ: Mapping[str, str]
) -> Any:
    """The parsed value of ``field``, or ``_UNSET`` when neither environment nor file sets it."""
    if field.env in environ:
        return _parse(field, environ[field.env], environ[field.env], field.env)
    for alias in field.aliases:
        if alias.name in environ:
            text = alias.translate(environ[alias.name])
            if text is not None:
                return _parse(field, text, environ[alias.name], alias.name)
    if field.name in file_values:
        return _parse(field, file_values[field.name], file_values[field.name], field.env)
    return _UNSET


def _check_tls_pair(server: ServerSettings) -> None:
    """TLS needs both the certificate and its key."""
    if (server.tls_cert is None) == (server.tls_key is None):
        return
    missing, given = ("tls_key", "tls_cert") if server.tls_key is None else ("tls_cert", "tls_key")
    field = field_named(f"server.{missing}")
    raise ConfigError(
        f"{field.name} ({field.env}): expected a file because server.{given} is set "
        "(TLS needs both or neither), got nothing"
    )


def _needed(name: str, because: str) -> ConfigError:
    field = field_named(name)
    return ConfigError(
        f"{field.name} ({field.env}): expected a value because {because}, got nothing"
    )


def _check_auth(settings: Settings) -> None:
    """Settings that only make sense together."""
    mode = settings.auth.mode
    if mode is AuthMode.OIDC and not settings.oidc.issuer:
        raise _needed("oidc.issuer", "auth.mode is oidc")
    if settings.oidc.issuer and not settings.oidc.expected_audience:
        raise _needed("oidc.client_id", "oidc.issuer is set (it is the expected token audience)")
    if mode is AuthMode.TOKEN and settings.token.external and not settings.token.realm:
        raise _needed(
            "token.realm",
            "tokens come from an external issuer (token.public_key or "
            "token.jwks_url is set): clients must be told where to get them",
        )
    url = settings.database.url
    if url and not url.startswith("sqlite:///"):
        field = field_named("database.url")
        raise ConfigError(
            f"{field.name} ({field.env}): expected sqlite:///PATH (PostgreSQL is not available "
            f"yet in this build), got {show(url.split('://', 1)[0] + '://...')}"
        )


def _check_s3(settings: Settings) -> None:
    if settings.storage.backend is StorageBackend.S3 and not settings.s3.bucket:
        raise _needed("s3.bucket", "storage.backend is s3")


def load_settings(config_path: Path | None, environ: Mapping[str, str]) -> Settings:
    """The validated settings; raises ``ConfigError`` (one line) on the first fault."""
    path = find_config_file(config_path, environ)
    origin = f" (from {CONFIG_ENV})" if config_path is None and CONFIG_ENV in environ else ""
    file_values = _file_values(_read_toml(path, origin), path) if path is not None else {}
    changes: dict[str, dict[str, object]] = {section: {} for section in SECTIONS}
    for field in FIELDS:
        value = _resolve(field, file_values, environ)
        if value is not _UNSET:
            changes[field.section].update(field.assignments(value))
    defaults = Settings()
    sections = {name: replace(getattr(defaults, name), **changes[name]) for name in SECTIONS}
    settings = replace(defaults, **sections)
    _check_tls_pair(settings.server)
    _check_auth(settings)
    _check_s3(settings)
    return settings
