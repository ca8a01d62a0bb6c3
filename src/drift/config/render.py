"""``render_settings``: the effective configuration as TOML, for ``driftctl config show``."""

from __future__ import annotations

from drift.config.fields import FIELDS, SECTIONS
from drift.config.settings import Settings
from drift.config.values import TomlScalar

__all__ = ["render_settings"]


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in {'"', "\\"}:
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _toml_scalar(value: TomlScalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_scalar(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{key} = {_toml_scalar(item)}" for key, item in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    return _toml_string(value)


def render_settings(settings: Settings) -> str:
    """Every key with its effective value and env name; ``load_settings`` reads it back to the
    same settings, except the secret, shown as ``"<set>"`` or ``"<generated>"``."""
    blocks: list[str] = []
    for section in SECTIONS:
        values = getattr(settings, section)
        lines = [f"[{section}]"]
        for field in FIELDS:
            if field.section == section:
                text = _toml_scalar(field.codec.dump(field.current(values)))
                names = ", alias ".join((field.env, *(alias.name for alias in field.aliases)))
                lines.append(f"{field.key} = {text}  # {names}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
