"""Value codecs: turn one raw setting (a TOML value or an environment string) into a typed value.

Each codec also dumps its value back to a TOML scalar, so that ``render_settings`` prints text that
``load_settings`` reads back to the same value (secrets excepted: they dump as a placeholder).
"""

from __future__ import annotations

import ipaddress
import os
import re
from abc import ABC, abstractmethod
from enum import Enum
from pathlib import Path
from typing import Final, Generic, TypeAlias, TypeVar
from urllib.parse import urlsplit

from drift.config.errors import InvalidValueError

__all__ = [
    "LOG_LEVELS",
    "Address",
    "Boolean",
    "ByteSize",
    "Choice",
    "Codec",
    "Directory",
    "Duration",
    "Host",
    "Integer",
    "LogLevel",
    "OptionalDirectory",
    "OptionalFile",
    "Password",
    "Secret",
    "StringList",
    "Text",
    "TomlScalar",
    "Url",
    "address_host",
    "address_port",
    "format_duration",
    "format_size",
    "parse_duration",
    "rust_log_level",
    "show",
]

# What a codec dumps: a TOML scalar, or an array / inline table of them (webhook endpoints).
TomlScalar: TypeAlias = str | int | float | bool | list["TomlScalar"] | dict[str, "TomlScalar"]
T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_SHOW_LIMIT: Final = 80


def show(raw: object) -> str:
    """One-line rendering of a given value for error messages (TOML spelling where it differs)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "an array"
    text = repr(raw) if isinstance(raw, str) else str(raw)
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 1] + "…"


class Codec(ABC, Generic[T]):
    """Parses one raw value or raises ``InvalidValueError``; ``expected`` ends "expected ..."."""

    expected: str

    @abstractmethod
    def parse(self, raw: object) -> T: ...

    @abstractmethod
    def dump(self, value: T) -> TomlScalar: ...


def _text(raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidValueError
    return raw.strip()


class Integer(Codec[int]):
    def __init__(self, minimum: int, maximum: int | None, expected: str) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.expected = expected

    def parse(self, raw: object) -> int:
        if isinstance(raw, bool):
            raise InvalidValueError
        if isinstance(raw, int):
            value = raw
        elif re.fullmatch(r"[+-]?[0-9]{1,18}", text := _text(raw)):
            value = int(text)
        else:
            raise InvalidValueError
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            raise InvalidValueError
        return value

    def dump(self, value: int) -> TomlScalar:
        return value


_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})


class Boolean(Codec[bool]):
    expected = "a boolean (true/false, 1/0, yes/no, on/off)"

    def parse(self, raw: object) -> bool:
        if isinstance(raw, bool):
            return raw
        text = _text(raw).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise InvalidValueError

    def dump(self, value: bool) -> TomlScalar:
        return value


class Choice(Codec[E]):
    """One member of an enum, by value, case-insensitive.

    Members outside ``available`` are known names whose implementation is not in this build yet:
    they get their own message instead of a generic "expected one of".
    """

    def __init__(self, enum: type[E], available: frozenset[E] | None = None) -> None:
        self.enum = enum
        self.available = frozenset(enum) if available is None else available
        self.expected = "one of " + "|".join(str(member.value) for member in enum)

    def parse(self, raw: object) -> E:
        text = _text(raw).lower()
        try:
            member = self.enum(text)
        except ValueError:
            raise InvalidValueError from None
        if member not in self.available:
            usable = ", ".join(repr(m.value) for m in self.enum if m in self.available)
            hint = f"use {usable}" if len(self.available) == 1 else f"use one of {usable}"
            raise InvalidValueError(f"{text!r} is not available yet in this build; {hint}")
        return member

    def dump(self, value: E) -> TomlScalar:
        return str(value.value)


_HOSTNAME: Final = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)


def _valid_host(host: str) -> bool:
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    if not _HOSTNAME.match(host):
        return False
    if all(label.isdigit() for label in host.split(".")):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return True


class Address(Codec[tuple[str, int]]):
    """A listen address ``host:port``; an IPv6 host goes in brackets (``[::1]:5000``)."""

    expected = "host:port with a port in 1..65535 (IPv6 as [::1]:5000)"

    def parse(self, raw: object) -> tuple[str, int]:
        text = _text(raw)
        bracketed = re.fullmatch(r"\[([^\]]+)\]:([0-9]{1,5})", text)
        plain = re.fullmatch(r"([^:\[\]]+):([0-9]{1,5})", text)
        match = bracketed or plain
        if match is None:
            raise InvalidValueError
        host, port = match.group(1), int(match.group(2))
        if (bracketed is not None) != (":" in host) or not _valid_host(host):
            raise InvalidValueError
        if not 1 <= port <= 65535:
            raise InvalidValueError
        return host, port

    def dump(self, value: tuple[str, int]) -> TomlScalar:
        host, port = value
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Host(Codec[str]):
    """A listen host: an IPv4 or IPv6 address (no brackets) or a host name."""

    expected = "an IP address or host name (DRIFT_QUIC_ADDR: host:port)"

    def parse(self, raw: object) -> str:
        text = _text(raw)
        if not _valid_host(text):
            raise InvalidValueError
        return text

    def dump(self, value: str) -> TomlScalar:
        return value


def _address_part(value: str, index: int) -> str:
    try:
        return str(Address().parse(value)[index])
    except InvalidValueError:
        return ""  # refused by the primary field's codec, naming the alias and its value


def address_host(value: str) -> str:
    """The host of a ``host:port`` alias (``DRIFT_QUIC_ADDR``), for the host field."""
    return _address_part(value, 0)


def address_port(value: str) -> str:
    """The port of a ``host:port`` alias, for the port field."""
    return _address_part(value, 1)


_DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(?:[0-9]{1,9}[smhdw])+\Z")
_MAX_DURATION: Final = 100 * 365 * 86400


def parse_duration(text: str) -> int:
    """Seconds in a duration such as ``168h``, ``30m``, ``7d`` or ``1h30m`` (units s m h d w)."""
    text = text.strip().lower()
    if not _DURATION.match(text):
        raise InvalidValueError
    seconds = sum(
        int(number) * _DURATION_UNITS[unit]
        for number, unit in re.findall(r"([0-9]+)([smhdw])", text)
    )
    if seconds > _MAX_DURATION:
        raise InvalidValueError
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest spelling ``parse_duration`` reads back as ``seconds`` (``7d``, ``1h30m``)."""
    if seconds == 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _DURATION_UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


class Duration(Codec[int]):
    """A duration, as whole seconds."""

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum
        qualifier = "positive " if minimum > 0 else ""
        self.expected = f"a {qualifier}duration such as '168h', '30m' or '7d' (units s m h d w)"

    def parse(self, raw: object) -> int:
        seconds = parse_duration(_text(raw))
        if seconds < self.minimum:
            raise InvalidValueError
        return seconds

    def dump(self, value: int) -> TomlScalar:
        return format_duration(value)


LOG_LEVELS: Final = ("error", "warning", "info", "debug", "trace")
_LOG_LEVEL_ALIASES: Final = {"warn": "warning"}


class LogLevel(Codec[str]):
    """A log level, normalised to one of ``LOG_LEVELS``."""

    expected = "one of error|warn|warning|info|debug|trace"

    def parse(self, raw: object) -> str:
        text = _text(raw).lower()
        text = _LOG_LEVEL_ALIASES.get(text, text)
        if text not in LOG_LEVELS:
            raise InvalidValueError
        return text

    def dump(self, value: str) -> TomlScalar:
        return value


def rust_log_level(value: str) -> str | None:
    """The level a ``RUST_LOG`` filter gives the ``drift`` target, or None when it names none.

    ``RUST_LOG`` is a comma-separated list of ``level`` and ``target=level`` directives
    (env_logger syntax); a directive for ``drift`` wins over a bare default, later over earlier.
    """
    bare: str | None = None
    for directive in value.split("/", 1)[0].split(","):
        target, sep, level = directive.strip().rpartition("=")
        if not sep:
            bare = level.strip() or bare
        elif target.strip() == "drift":
            return level.strip()
    return bare


_SECRET_MIN_LENGTH: Final = 16


class Secret(Codec[str]):
    """An HMAC secret: empty means generated once and kept in the data directory."""

    expected = f"empty (generated) or at least {_SECRET_MIN_LENGTH} characters"

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise InvalidValueError(f"expected {self.expected}, got a value that is not a string")
        if raw and len(raw) < _SECRET_MIN_LENGTH:
            raise InvalidValueError(
                f"expected {self.expected}, got a value of {len(raw)} character(s)"
            )
        return raw

    def dump(self, value: str) -> TomlScalar:
        return "<set>" if value else "<generated>"


class OptionalFile(Codec[Path | None]):
    """A path to an existing readable file; empty means not set."""

    expected = "the path of an existing readable file, or empty"

    def parse(self, raw: object) -> Path | None:
        if not isinstance(raw, str):
            raise InvalidValueError
        if not raw:
            return None
        path = Path(raw)
        if not path.is_file():
            raise InvalidValueError(f"expected an existing file, got {show(raw)} (no such file)")
        if not os.access(path, os.R_OK):
            raise InvalidValueError(
                f"expected a readable file, got {show(raw)} (permission denied)"
            )
        return path

    def dump(self, value: Path | None) -> TomlScalar:
        return "" if value is None else str(value)


class Directory(Codec[Path]):
    """A directory path; it may not exist yet, but must not be something other than a directory."""

    expected = "a directory path"

    def parse(self, raw: object) -> Path:
        if not isinstance(raw, str) or not raw:
            raise InvalidValueError
        path = Path(raw)
        if path.exists() and not path.is_dir():
            raise InvalidValueError(f"expected a directory, got {show(raw)} (not a directory)")
        return path

    def dump(self, value: Path) -> TomlScalar:
        return str(value)


class Text(Codec[str]):
    """A free-form string; ``allow_empty`` says whether "" (usually "not set") is accepted."""

    def __init__(self, expected: str = "a string", *, allow_empty: bool = True) -> None:
        self.expected = expected
        self.allow_empty = allow_empty

    def parse(self, raw: object) -> str:
        text = _text(raw)
        if not text and not self.allow_empty:
            raise InvalidValueError
        return text

    def dump(self, value: str) -> TomlScalar:
        return value


class Password(Text):
    """A credential: any string, shown back only as ``<set>`` (or "" when empty)."""

    def dump(self, value: str) -> TomlScalar:
        return "<set>" if value else ""


class Url(Codec[str]):
    """An ``http(s)://`` URL with a host, or empty (not set)."""

    expected = "an http:// or https:// URL, or empty"

    def parse(self, raw: object) -> str:
        text = _text(raw)
        if not text:
            return ""
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidValueError
        return text.rstrip("/")

    def dump(self, value: str) -> TomlScalar:
        return value


class StringList(Codec[tuple[str, ...]]):
    """A TOML array of strings, or in the environment one comma-separated string."""

    def __init__(self, expected: str, item: re.Pattern[str] | None = None) -> None:
        self.expected = f"an array of {expected} (in the environment: comma-separated)"
        self.item = item

    def parse(self, raw: object) -> tuple[str, ...]:
        if isinstance(raw, str):
            raw = [part for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise InvalidValueError
        items = tuple(dict.fromkeys(item.strip() for item in raw))
        bad = [item for item in items if not item or (self.item and not self.item.fullmatch(item))]
        if bad:
            raise InvalidValueError(f"expected {self.expected}, got {show(bad[0])}")
        return items

    def dump(self, value: tuple[str, ...]) -> TomlScalar:
        return list[TomlScalar](value)


class OptionalDirectory(Codec[Path | None]):
    """A directory path (it may not exist yet), or empty for "not set"."""

    expected = "a directory path, or empty"

    def parse(self, raw: object) -> Path | None:
        if raw == "":
            return None
        return Directory().parse(raw)

    def dump(self, value: Path | None) -> TomlScalar:
        return "" if value is None else str(value)


_SIZE_UNITS: Final = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE: Final = re.compile(r"([0-9]{1,15})\s*([kmgt]i?b|b)?", re.IGNORECASE)


class ByteSize(Codec[int]):
    """A size in bytes: an integer, or a string such as ``16MiB`` or ``10GiB`` (binary units)."""

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.expected = (
            f"a size from {format_size(minimum)} to {format_size(maximum)}, such as '16MiB' "
            "(units B KiB MiB GiB TiB)"
        )

    def parse(self, raw: object) -> int:
        if isinstance(raw, bool):
            raise InvalidValueError
        if isinstance(raw, int):
            value = raw
        else:
            match = _SIZE.fullmatch(_text(raw))
            if match is None:
                raise InvalidValueError
            unit = (match.group(2) or "").lower()
            if unit and not unit.endswith("ib") and unit != "b":
                unit = unit[0] + "ib"  # "16MB" is read as 16 MiB, as most tools do
            value = int(match.group(1)) * _SIZE_UNITS[unit]
        if not self.minimum <= value <= self.maximum:
            raise InvalidValueError
        return value

    def dump(self, value: int) -> TomlScalar:
        return format_size(value)


def format_size(value: int) -> str:
    """The shortest exact spelling of ``value`` bytes (``16MiB``, ``1536KiB``, ``100B``)."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        scale = _SIZE_UNITS[unit.lower()]
        if value >= scale and value % scale == 0:
            return f"{value // scale}{unit}"
    return f"{value}B"
